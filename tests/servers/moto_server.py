"""moto's Route 53 in server mode, in its own process on a loopback port, reached by boto3 over HTTP.

With `write_through` (a BIND9 address, TSIG key and zones), every change Route 53 accepts is copied
to BIND over RFC 2136, so Pebble, asking BIND, validates what certvault wrote to Route 53. The
process also counts the API calls it answers (GET /_certvault/calls) for the benchmark.

Run as `python -m tests.servers.moto_server PORT [BIND_ADDRESS KEY_NAME SECRET ZONE...]`.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.servers.pebble import shared
from tests.servers.process import free_port, port_open, start, stop, wait_until

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class MotoServer:
    workdir: Path
    write_through: tuple[str, str, str, tuple[str, ...]] | None = None  # (address, key name, secret, zones)
    port: int = 0
    proc: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        args = [sys.executable, "-m", "tests.servers.moto_server", str(self.port)]
        if self.write_through:
            address, key_name, secret, zones = self.write_through
            args += [address, key_name, secret, *zones]
        log = self.workdir / "moto.log"
        self.proc = start(args, log, cwd=ROOT)
        wait_until(lambda: port_open(self.port), 30, "moto server", self.proc, log)
        return self

    def client(self) -> Any:
        """A boto3 Route 53 client for the test's own setup (zones, reading records back)."""
        import boto3

        return boto3.client("route53", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="AKIDTEST", aws_secret_access_key="secret")

    def create_zone(self, name: str) -> str:
        answer = self.client().create_hosted_zone(Name=name, CallerReference=f"{name}-{time.monotonic_ns()}")
        return str(answer["HostedZone"]["Id"]).removeprefix("/hostedzone/")

    def txt(self, zone_id: str, name: str) -> list[str]:
        sets = self.client().list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=name,
                                                       StartRecordType="TXT", MaxItems="1")["ResourceRecordSets"]
        return [r["Value"].strip('"') for s in sets if s["Name"] == name.rstrip(".") + "." and s["Type"] == "TXT"
                for r in s["ResourceRecords"]]

    def calls(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.endpoint}/_certvault/calls", timeout=5) as response:
            return dict(json.loads(response.read()))

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


def moto_server(name: str = "moto", write_through: tuple[str, str, str, tuple[str, ...]] | None = None) -> MotoServer:
    return shared(name, lambda: MotoServer(Path(tempfile.mkdtemp(prefix="cv-moto-")), write_through).start())


# ---- the server process ------------------------------------------------------------------------

def _install_write_through(address: str, key_name: str, secret: str, zones: list[str]) -> None:
    from moto.route53.models import Route53Backend

    from tests.servers.bind9 import replace_rrset

    original = Route53Backend.change_resource_record_sets

    def change(self: Any, zoneid: str, change_list: list[dict[str, Any]]) -> None:
        original(self, zoneid, change_list)
        zone = self.get_hosted_zone(zoneid)
        for item in change_list:
            record = item["ResourceRecordSet"]
            if record["Type"] != "TXT":
                continue
            name = record["Name"].rstrip(".") + "."
            values = [str(v).strip('"') for rrset in zone.rrsets
                      if rrset.name.rstrip(".") + "." == name and rrset.type == "TXT" for v in rrset.records]
            replace_rrset(address, key_name, secret, zones, name, "TXT", values)

    Route53Backend.change_resource_record_sets = change  # type: ignore[method-assign]


def _counting(app: Any) -> Any:
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == "/_certvault/calls":
            body = json.dumps(counts).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        key = f"{environ.get('REQUEST_METHOD')} {path.split('/')[2] if path.count('/') > 1 else path}"
        with lock:
            counts[key] = counts.get(key, 0) + 1
            counts["total"] = counts.get("total", 0) + 1
        return app(environ, start_response)

    return wsgi


def main(argv: list[str]) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    port = int(argv[0])
    if len(argv) > 4:
        _install_write_through(argv[1], argv[2], argv[3], argv[4:])
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", port, _counting(app), True, request_handler=MotoRequestHandler)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])

"""moto's Route 53 in server mode, in its own process on a loopback port, reached by boto3 over HTTP.

moto itself does not check credentials; in front of it this process verifies each request's SigV4
signature against the one key pair it knows (ACCESS_KEY / SECRET_KEY) and answers 403 with AWS's own
error codes (InvalidClientTokenId, SignatureDoesNotMatch) otherwise. It counts the API calls it answers
(GET /_certvault/calls; GET /_certvault/times gives each call's monotonic time) and can answer the next
N calls with a failure (POST /_certvault/fail?status=&times=) such as 400 Throttling. With
`rate_limit` it enforces Route 53's documented 5 requests per second: above it, 400 Throttling.

With `write_through` (a BIND9 address, TSIG key and zones), every change Route 53 accepts is copied
to BIND over RFC 2136, so Pebble, asking BIND, validates what certvault wrote to Route 53.

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
ACCESS_KEY, SECRET_KEY = "AKIDCERTVAULTTEST", "certvault-test-secret-access-key"


@dataclass
class MotoServer:
    workdir: Path
    write_through: tuple[str, str, str, tuple[str, ...]] | None = None  # (address, key name, secret, zones)
    rate_limit: float | None = None  # requests per second, as Route 53 enforces it
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
        env = {"CERTVAULT_MOTO_RATE": str(self.rate_limit)} if self.rate_limit else {}
        self.proc = start(args, log, cwd=ROOT, env=env)
        wait_until(lambda: port_open(self.port), 30, "moto server", self.proc, log)
        return self

    def client(self) -> Any:
        """A boto3 Route 53 client for the test's own setup (zones, reading records back)."""
        import boto3

        return boto3.client("route53", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

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

    def call_times(self) -> list[float]:
        with urllib.request.urlopen(f"{self.endpoint}/_certvault/times", timeout=5) as response:
            return list(json.loads(response.read()))

    def fail(self, status: int, times: int, code: str = "Throttling") -> None:
        url = f"{self.endpoint}/_certvault/fail?status={status}&times={times}&code={code}"
        urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=5).close()

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


def _error(start_response: Any, status: int, code: str, message: str) -> list[bytes]:
    body = (f'<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
            f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{time.monotonic_ns()}</RequestId></ErrorResponse>").encode()
    start_response(f"{status} Error", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
    return [body]


def _signature_problem(environ: dict[str, Any], body: bytes) -> tuple[str, str] | None:
    """Recompute the request's SigV4 signature with the known secret (botocore's own signer)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    header = environ.get("HTTP_AUTHORIZATION", "")
    fields = dict(part.strip().split("=", 1) for part in header.removeprefix("AWS4-HMAC-SHA256 ").split(",")
                  if "=" in part)
    access_key, _, scope = fields.get("Credential", "").partition("/")
    if access_key != ACCESS_KEY:
        return "InvalidClientTokenId", "The security token included in the request is invalid."
    signed = fields.get("SignedHeaders", "").split(";")
    headers = {name: environ.get("HTTP_" + name.upper().replace("-", "_"), "") for name in signed}
    if "content-type" in signed:
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
    query = environ.get("QUERY_STRING", "")
    url = f"http://{environ.get('HTTP_HOST')}{environ.get('PATH_INFO', '')}" + (f"?{query}" if query else "")
    request = AWSRequest(method=environ["REQUEST_METHOD"], url=url, headers=headers, data=body)
    request.context["timestamp"] = headers.get("x-amz-date", "")
    _date, region, service, _tail = (scope.split("/") + ["", "", "", ""])[:4]
    auth = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), service, region)
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    if expected != fields.get("Signature"):
        return "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."
    return None


def _normal(path: str) -> str:
    """/2013-04-01/hostedzone/Z1/rrset -> /2013-04-01/hostedzone/{id}/rrset (counting per operation)."""
    parts = path.split("/")
    return "/".join("{id}" if i > 0 and parts[i - 1] in ("hostedzone", "change") else p for i, p in enumerate(parts))


def _guarded(app: Any) -> Any:
    import os

    counts: dict[str, int] = {}
    times: list[float] = []
    failing: dict[str, Any] = {}
    lock = threading.Lock()
    rate = float(os.environ.get("CERTVAULT_MOTO_RATE") or 0)

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == "/_certvault/calls":
            body = json.dumps(counts).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if path == "/_certvault/times":
            body = json.dumps(times).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if path == "/_certvault/fail":
            from urllib.parse import parse_qs

            query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            with lock:
                failing.update(status=int(query["status"]), times=int(query["times"]), code=query.get("code", ""))
            start_response("204 No Content", [])
            return [b""]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        import io

        environ["wsgi.input"] = io.BytesIO(body)
        with lock:
            key = f"{environ.get('REQUEST_METHOD')} {_normal(path)}"
            counts[key] = counts.get(key, 0) + 1
            counts["total"] = counts.get("total", 0) + 1
            now = time.monotonic()
            times.append(now)
            injected = failing.get("times", 0) > 0
            if injected:
                failing["times"] -= 1
            elif rate and sum(1 for t in times[-int(rate) - 1:] if t > now - 1.0) > rate:
                counts["throttled"] = counts.get("throttled", 0) + 1
                return _error(start_response, 400, "Throttling", "Rate exceeded")
        if injected:
            return _error(start_response, failing["status"], failing["code"] or "ServiceUnavailable", "injected")
        problem = _signature_problem(environ, body)
        if problem is not None:
            return _error(start_response, 403, *problem)
        return app(environ, start_response)

    return wsgi


def main(argv: list[str]) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    port = int(argv[0])
    if len(argv) > 4:
        _install_write_through(argv[1], argv[2], argv[3], argv[4:])
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", port, _guarded(app), True, request_handler=MotoRequestHandler)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])

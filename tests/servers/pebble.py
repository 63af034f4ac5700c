"""Debian `pebble` (ACME CA) and `pebble-challtestsrv` (mock DNS) on loopback ports.

Started once per test process (xdist worker) and stopped by PID at exit. Each Pebble gets a TLS
certificate generated at start; its own root/intermediate change on every start.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.servers.process import free_port, port_open, start, stop, wait_until, which
from tests.servers.tls_files import write_tls_files

_LOCK = threading.Lock()
_INSTANCES: dict[str, Any] = {}


def _post_json(url: str, body: dict[str, Any]) -> bytes:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return bytes(response.read())


@dataclass
class ChallTestSrv:
    workdir: Path
    management_port: int = 0
    dns_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def dns(self) -> str:
        return f"127.0.0.1:{self.dns_port}"

    def start(self) -> ChallTestSrv:
        self.management_port, self.dns_port = free_port(), free_port()
        log = self.workdir / "challtestsrv.log"
        self.proc = start([which("pebble-challtestsrv"), "-management", f"127.0.0.1:{self.management_port}",
                           "-dns01", self.dns, "-http01", "", "-https01", "", "-tlsalpn01", "",
                           "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""], log)
        wait_until(lambda: port_open(self.management_port), 15, "pebble-challtestsrv", self.proc, log)
        return self

    def call(self, endpoint: str, body: dict[str, Any]) -> bytes:
        return _post_json(f"http://127.0.0.1:{self.management_port}/{endpoint}", body)

    def set_txt(self, host: str, value: str) -> None:
        self.call("set-txt", {"host": host.rstrip(".") + ".", "value": value})

    def clear_txt(self, host: str) -> None:
        self.call("clear-txt", {"host": host.rstrip(".") + "."})

    def set_servfail(self, host: str) -> None:
        self.call("set-servfail", {"host": host.rstrip(".") + "."})

    def clear_servfail(self, host: str) -> None:
        self.call("clear-servfail", {"host": host.rstrip(".") + "."})

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)


@dataclass
class Pebble:
    workdir: Path
    dns_server: str
    env: dict[str, str] = field(default_factory=dict)
    http_port: int = 0  # where Pebble's VA connects for http-01
    eab_keys: dict[str, str] = field(default_factory=dict)
    validity_seconds: int | None = None
    port: int = 0
    management_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    @property
    def tls_ca(self) -> Path:
        return self.workdir / "tls" / "ca.pem"

    def start(self) -> Pebble:
        self.workdir.mkdir(parents=True, exist_ok=True)
        _ca, cert, key = write_tls_files(self.workdir / "tls")
        self.port = self.port or free_port()
        self.management_port = self.management_port or free_port()
        self.http_port = self.http_port or free_port()
        config: dict[str, Any] = {
            "listenAddress": f"127.0.0.1:{self.port}", "managementListenAddress": f"127.0.0.1:{self.management_port}",
            "certificate": str(cert), "privateKey": str(key), "httpPort": self.http_port, "tlsPort": free_port(),
            "ocspResponderURL": "", "externalAccountBindingRequired": bool(self.eab_keys),
        }
        if self.eab_keys:
            config["externalAccountMACKeys"] = self.eab_keys
        if self.validity_seconds:
            config["certificateValidityPeriod"] = self.validity_seconds
        (self.workdir / "pebble.json").write_text(json.dumps({"pebble": config}))
        env = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0", **self.env}
        log = self.workdir / "pebble.log"
        self.proc = start([which("pebble"), "-config", str(self.workdir / "pebble.json"),
                           "-dnsserver", self.dns_server, "-strict"], log, env=env)
        wait_until(self._ready, 20, "pebble", self.proc, log)
        return self

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.tls_ca))

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.directory_url, context=self._context(), timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def management(self, path: str) -> bytes:
        url = f"https://127.0.0.1:{self.management_port}{path}"
        with urllib.request.urlopen(url, context=self._context(), timeout=5) as response:
            return bytes(response.read())

    def root_pem(self) -> str:
        return self.management("/roots/0").decode()

    def intermediate_pem(self) -> str:
        return self.management("/intermediates/0").decode()

    def cert_status(self, serial: int) -> dict[str, Any]:
        return dict(json.loads(self.management(f"/cert-status-by-serial/{serial:x}")))

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def new_eab_key() -> tuple[str, str]:
    """(kid, unpadded base64url HMAC key) as a CA hands them out."""
    return "kid-" + os.urandom(3).hex(), base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()


def _workdir(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"cv-{name}-"))


def shared(name: str, factory: Any) -> Any:
    """One instance per test process, stopped (by PID) and its files removed when the process exits."""
    with _LOCK:
        if name not in _INSTANCES:
            instance = factory()
            _INSTANCES[name] = instance
            atexit.register(_dispose, instance)
        return _INSTANCES[name]


def _dispose(instance: Any) -> None:
    instance.stop()
    workdir = getattr(instance, "workdir", None)
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)


def challtestsrv() -> ChallTestSrv:
    return shared("challtestsrv", lambda: ChallTestSrv(_workdir("challtestsrv")).start())


def pebble(name: str = "pebble", **options: Any) -> Pebble:
    """A Pebble resolving names through the shared challtestsrv (every name → 127.0.0.1)."""
    dns = challtestsrv().dns
    return shared(name, lambda: Pebble(_workdir(name), dns_server=dns, **options).start())


class ChallTestSrvDNS:
    """A DNS provider plugin over challtestsrv's management API (tests only; registered at run time)."""

    name = "challtestsrv"
    title = "pebble-challtestsrv (tests)"
    secret_fields: tuple[str, ...] = ()

    from pydantic import BaseModel as _Base

    class Options(_Base):
        management_url: str
        dns_server: str

    def __init__(self, options: Any, secrets: Any, _http: Any = None) -> None:
        self.options = options

    def present(self, fqdn: str, value: str) -> None:
        _post_json(f"{self.options.management_url}/set-txt", {"host": fqdn.rstrip(".") + ".", "value": value})

    def cleanup(self, fqdn: str, value: str) -> None:
        _post_json(f"{self.options.management_url}/clear-txt", {"host": fqdn.rstrip(".") + "."})

    def propagation(self) -> Any:
        from certvault.plugins.protocols import Propagation

        return Propagation(timeout=3.0, interval=0.2)

    def visibility_servers(self, fqdn: str) -> list[Any]:
        from certvault.plugins.protocols import NameServer

        host, _, port = self.options.dns_server.rpartition(":")
        return [NameServer(host, int(port))]

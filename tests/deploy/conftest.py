"""Deploy tests: a real sshd with nginx behind it, test certificates, the app with a worker."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certvault.auth.rbac import Actor
from tests.servers.process import free_port, port_open, start, stop, wait_until, which
from tests.servers.sshd import Sshd


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass
class Authority:
    key: Any
    cert: x509.Certificate
    issued: int = 0

    @classmethod
    def make(cls) -> Authority:
        now = dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(_name("deploy test CA")).issuer_name(_name("deploy test CA"))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        return cls(key, cert)

    def leaf(self, name: str = "localhost") -> tuple[bytes, bytes, str]:
        """(chain PEM: leaf then CA, key PEM, serial hex). Each leaf ends a minute after the one before, so a
        later one stored for the same names is its certificate's current version."""
        now = dt.datetime.now(dt.UTC)
        self.issued += 1
        key = ec.generate_private_key(ec.SECP256R1())
        serial = x509.random_serial_number()
        cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(self.cert.subject)
                .public_key(key.public_key()).serial_number(serial)
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=10, minutes=self.issued))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                               critical=False)
                .sign(self.key, hashes.SHA256()))
        pem = serialization.Encoding.PEM
        chain = cert.public_bytes(pem) + self.cert.public_bytes(pem)
        key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return chain, key_pem, format(serial, "x")


@pytest.fixture(scope="module")
def test_ca() -> Authority:
    return Authority.make()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    server = Sshd(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@dataclass
class Nginx:
    workdir: Path
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def conf(self) -> Path:
        return self.workdir / "nginx.conf"

    @property
    def fullchain(self) -> Path:
        return self.workdir / "ssl" / "fullchain.pem"

    @property
    def key(self) -> Path:
        return self.workdir / "ssl" / "privkey.pem"

    @property
    def webroot(self) -> Path:
        return self.workdir / "www"

    def command(self, *args: str) -> str:
        return " ".join([which("nginx", "/usr/sbin/nginx"), "-c", str(self.conf), "-p", str(self.workdir),
                         "-e", str(self.workdir / "error.log"), *args])

    def serves(self, serial: str, timeout: float = 30.0) -> bool:
        """Whether it comes to serve `serial` (after a reload, old workers answer a little longer)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.served_serial() == serial:
                return True
            time.sleep(0.2)
        return False

    def served_serial(self) -> str:
        from certvault.plugins.deploy.endpoints import parse, serial_hex, served_chain

        return serial_hex(served_chain(parse(f"127.0.0.1:{self.port}/localhost"))[0])


def start_nginx(workdir: Path, chain: bytes, key: bytes, http_port: int | None = None) -> Nginx:
    """nginx serving `chain` over TLS on a free port (and the webroot over plain HTTP on `http_port`)."""
    (workdir / "ssl").mkdir(parents=True, exist_ok=True)
    (workdir / "www").mkdir(exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)
    (workdir / "ssl" / "fullchain.pem").write_bytes(chain)
    (workdir / "ssl" / "privkey.pem").write_bytes(key)
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""  # the workers read files under pytest's private tmp
    (workdir / "nginx.conf").write_text(f"""
{user}
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
daemon off;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {workdir}/tmp; proxy_temp_path {workdir}/tmp; fastcgi_temp_path {workdir}/tmp;
  uwsgi_temp_path {workdir}/tmp; scgi_temp_path {workdir}/tmp;
  server {{
    listen 127.0.0.1:{port} ssl;
    server_name localhost;
    ssl_certificate {workdir}/ssl/fullchain.pem;
    ssl_certificate_key {workdir}/ssl/privkey.pem;
    root {workdir}/www;
  }}
  {f"server {{ listen 127.0.0.1:{http_port}; root {workdir}/www; }}" if http_port else ""}
}}
""")
    log = workdir / "nginx.log"
    proc = start([which("nginx", "/usr/sbin/nginx"), "-c", str(workdir / "nginx.conf"), "-p", str(workdir),
                  "-e", str(workdir / "error.log")], log)
    wait_until(lambda: port_open(port), 20, "nginx", proc, log)
    return Nginx(workdir, port, proc)


@pytest.fixture
def nginx(tmp_path: Path, test_ca: Authority) -> Iterator[Nginx]:
    chain, key, _ = test_ca.leaf()
    server = start_nginx(tmp_path / "nginx", chain, key)
    yield server
    stop(server.proc)


def ssh_options(sshd: Sshd, site: Nginx, **extra: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": sshd.port, "user": sshd.user, "known_host": sshd.known_host_line(),
            "preset": "nginx", "fullchain_path": str(site.fullchain), "key_path": str(site.key), "mode": "0600",
            "test_command": site.command("-t"), "reload_command": site.command("-s", "reload"),
            "webroot": str(site.webroot), "verify": [f"127.0.0.1:{site.port}/localhost"], "verify_timeout": 15,
            **extra}


def store(svc: Any, chain: bytes, key: bytes, entry_id: uuid.UUID | None = None) -> uuid.UUID:
    return svc.certificates.store_issued_id(Actor.system("test-admin", via="cli"), chain_pem=chain, key_pem=key,
                                            source="import", entry_id=entry_id)

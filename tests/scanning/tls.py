"""Real `openssl s_server` endpoints on loopback addresses, with certificates from a throwaway test CA.

Profiles:
  modern  TLS 1.2+ with ECDHE-AESGCM only: no finding at all with a trusted, matching certificate
  legacy  TLS 1.0+ with every suite at SECLEVEL=0: legacy protocols, anonymous and other weak suites
"""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.servers.process import free_port, start, stop, wait_until, which

PROFILES = {
    "modern": ["-min_protocol", "TLSv1.2", "-cipher", "ECDHE+AESGCM", "-ciphersuites",
               "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"],
    "legacy": ["-min_protocol", "TLSv1", "-cipher", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
}


@dataclass
class Issued:
    cert: Path
    key: Path
    fingerprint: str


class ScanCA:
    """A CA that issues proper end-entity certificates (CA:false, serverAuth, SANs)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "certvault scan test CA")])
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.ca_file = directory / "ca.pem"
        self.ca_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self._count = 0

    @property
    def ca_pem(self) -> str:
        return self.ca_file.read_text()

    def issue(self, names: list[str], ips: list[str] = (), days: int = 90) -> Issued:  # type: ignore[assignment]
        self._count += 1
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
        sans += [x509.IPAddress(ip_address(i)) for i in ips]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (names or list(ips))[0])]))
            .issuer_name(self.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        der = cert.public_bytes(serialization.Encoding.DER)
        cert_path = self.directory / f"leaf{self._count}.pem"
        key_path = self.directory / f"leaf{self._count}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return Issued(cert_path, key_path, hashlib.sha256(der).hexdigest())


def _accepts(ip: str, port: int) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class TlsServer:
    """One `openssl s_server` on ip:port; restart() swaps certificate or profile on the same address."""

    ip: str
    port: int
    log: Path
    procs: list = field(default_factory=list)

    def start(self, issued: Issued, profile: str = "modern") -> TlsServer:
        address = f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"
        proc = start([which("openssl"), "s_server", "-accept", address, "-cert", str(issued.cert),
                      "-key", str(issued.key), "-www", "-quiet", *PROFILES[profile]], self.log)
        self.procs.append(proc)
        wait_until(lambda: _accepts(self.ip, self.port), 10, "openssl s_server", proc, self.log)
        return self

    def stop(self) -> None:
        while self.procs:
            stop(self.procs.pop())

    def restart(self, issued: Issued, profile: str = "modern") -> TlsServer:
        self.stop()
        return self.start(issued, profile)


class TlsServers:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.servers: list[TlsServer] = []

    def serve(self, issued: Issued, ip: str = "127.0.0.2", profile: str = "modern",
              port: int | None = None) -> TlsServer:
        port = port or free_port(ip)
        server = TlsServer(ip, port, self.directory / f"s_server-{ip}-{port}.log")
        self.servers.append(server)
        return server.start(issued, profile)

    def closed_port(self, ip: str = "127.0.0.2") -> int:
        """A port on which nothing listens (connections are refused at once)."""
        return free_port(ip)

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()

"""The agent's directory: its identity (key + certificate + chain in one 0600 file), server and state.

The key never leaves the machine: enrolment and renewal send a CSR. A new identity replaces the old one by
one rename, so a crash leaves either the old or the new pair, never a key without its certificate.
Imports only the standard library and cryptography (the agent runs on end servers).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

IDENTITY, CONFIG, STATE, CA = "identity.pem", "agent.json", "state.json", "ca.pem"
RENEW_AT = 2 / 3  # of the certificate's lifetime


def default_dir() -> Path:
    if os.environ.get("CERTVAULT_AGENT_DIR"):
        return Path(os.environ["CERTVAULT_AGENT_DIR"])
    if sys.platform == "win32":
        return Path(os.environ.get("ProgramData", r"C:\ProgramData")) / "certvault-agent"
    return Path("/var/lib/certvault-agent")


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def csr_pem(key: ec.EllipticCurvePrivateKey, name: str) -> str:
    """A CSR proving the key; the server names the certificate itself (CN and SAN = the agent's name)."""
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name or "certvault-agent")]))
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` readable by the owner only, replacing it in one rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass
class AgentDir:
    path: Path

    @property
    def identity(self) -> Path:
        return self.path / IDENTITY

    @property
    def ca_file(self) -> Path:
        return self.path / CA

    def enrolled(self) -> bool:
        return self.identity.exists() and (self.path / CONFIG).exists()

    def config(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.path / CONFIG).read_text())
        return data

    def save_config(self, server: str, name: str) -> None:
        write_private(self.path / CONFIG, json.dumps({"server": server, "name": name}, indent=2).encode())

    def save_identity(self, key: ec.EllipticCurvePrivateKey, cert_pem: str, chain_pem: str) -> None:
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        write_private(self.identity, key_pem + cert_pem.encode() + chain_pem.encode())

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.identity.read_bytes())[0]

    def renew_after(self) -> datetime:
        received = self.state().get("received_at")
        return renewal_due(self.certificate(), datetime.fromisoformat(received) if received else None)

    def state(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.path / STATE).read_text())
            return data
        except (OSError, ValueError):
            return {}

    def update_state(self, **values: Any) -> None:
        write_private(self.path / STATE, json.dumps({**self.state(), **values}, indent=2, default=str).encode())


def renewal_due(cert: x509.Certificate, received: datetime | None = None) -> datetime:
    """When the certificate should be replaced: two thirds into its lifetime, counted from when it was received
    when that is later than its notBefore (the CA back-dates notBefore a few minutes for clock skew)."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if received is not None and start < received < end:
        start = received
    return start + (end - start) * RENEW_AT


def utcnow() -> datetime:
    return datetime.now(UTC)

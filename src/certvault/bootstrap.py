"""First-run initialisation: data directory, master key, database, first admin, server TLS files.

Idempotent: a second run reuses everything and reports no new password.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certvault.auth.rbac import Actor
from certvault.config import Settings
from certvault.container import App, build_app
from certvault.crypto import keys
from certvault.db.locks import advisory_lock

RENEW_BEFORE = timedelta(days=30)


@dataclass
class InitResult:
    app: App
    admin_password: str | None
    server_cert: Path
    server_key: Path
    server_key_password: str
    ca_file: Path


def initialize(settings: Settings) -> InitResult:
    app = build_app(settings)
    with app.transaction() as svc:
        advisory_lock(svc.session, "certvault-init")  # servers starting together take turns
        svc.pki.ensure_ca()
        password = svc.auth.bootstrap_admin()
    app.install_schedules()
    cert, key, key_password, ca_file = ensure_server_tls(app)
    return InitResult(app, password, cert, key, key_password, ca_file)


def server_key_password(app: App) -> str:
    """Derived from the master key: the key file on disk is never in the clear."""
    return hmac.new(app.keyring.master.current_key, b"certvault-server-tls-key", hashlib.sha256).hexdigest()


def ensure_server_tls(app: App) -> tuple[Path, Path, str, Path]:
    tls_dir = app.settings.data_dir / "tls"
    tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_path, key_path, ca_path = tls_dir / "server.crt", tls_dir / "server.key", tls_dir / "ca.pem"
    wanted = _wanted_names(app.settings)
    password = server_key_password(app)
    if not _server_cert_ok(cert_path, key_path, password, wanted):
        with app.transaction() as svc:
            bundle = svc.pki.issue_server(Actor.system("server-tls", via="cli"), wanted, days=397)
            root = svc.pki.root_pem()
        _write(key_path, bundle.key_pem(password.encode()), 0o600)
        intermediate = bundle.chain[0].public_bytes(serialization.Encoding.PEM)
        _write(cert_path, bundle.cert_pem + intermediate, 0o644)
        _write(ca_path, root.encode(), 0o644)
    return cert_path, key_path, password, ca_path


def _wanted_names(settings: Settings) -> list[str]:
    names = list(dict.fromkeys([*settings.server.hostnames, "localhost", "127.0.0.1", "::1"]))
    host = settings.server.host
    if host not in ("0.0.0.0", "::") and host not in names:  # noqa: S104 (comparison, not a bind)
        names.append(host)
    return names


def _server_cert_ok(cert_path: Path, key_path: Path, password: str, wanted: list[str]) -> bool:
    if not cert_path.exists() or not key_path.exists():
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = keys.from_pem(key_path.read_bytes(), password.encode())
    except Exception:
        return False  # unreadable (e.g. master key rotated): reissue
    if cert.not_valid_after_utc - datetime.now(UTC) < RENEW_BEFORE:
        return False
    if not keys.public_matches(key, cert.public_key()):
        return False
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    present = {str(n) for n in sans.get_values_for_type(x509.DNSName)} | {
        str(n) for n in sans.get_values_for_type(x509.IPAddress)
    }
    return set(wanted) <= present


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)

"""A database dump (SQLite `.dump`, `pg_dump`) holds no plaintext secret and no PEM private key."""

from __future__ import annotations

import base64
import re
import subprocess

import pyotp
from cryptography.hazmat.primitives import serialization

from certvault.auth.rbac import Actor
from certvault.container import App
from tests.conftest import create_login
from tests.servers.postgres import _bin

PRIVATE_KEY_MARKERS = re.compile(rb"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----")


def _dump(app: App) -> bytes:
    url = app.engine.url
    if url.get_backend_name() == "sqlite":
        return subprocess.run(["sqlite3", str(url.database), ".dump"], capture_output=True, check=True).stdout
    return subprocess.run(
        [_bin("pg_dump"), "-h", str(url.host), "-p", str(url.port), "-U", str(url.username), str(url.database)],
        capture_output=True, check=True,
    ).stdout


def _key_fragments(pem: bytes) -> list[bytes]:
    """Distinctive pieces of a private key as they would appear if stored: PEM body lines and raw DER."""
    key = serialization.load_pem_private_key(pem, None)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    body = [line for line in pem.splitlines() if line and not line.startswith(b"-----")]
    return [body[1], der[-24:], base64.b64encode(der)[40:80], der.hex()[60:120].encode()]


def test_dump_contains_no_plaintext_secret(app: App) -> None:
    login = create_login(app, "operator")
    with app.transaction() as svc:
        actor = svc.auth.login(login.username, login.password, None)
        totp_secret, _ = svc.auth.totp_begin(actor, login.password)
        svc.auth.totp_confirm(actor, pyotp.TOTP(totp_secret).now())
        bundle = svc.pki.issue_client(Actor.system(), "dump-check", ["dump-check.example"], 30, "ec256")
        client_key = bundle.key_pem()
        sealed_probe = "correct horse battery staple 0xC0FFEE"
        svc.sealer.seal(sealed_probe, aad="probe")
    dump = _dump(app)
    assert b"CREATE TABLE" in dump and b"audit_events" in dump  # it is a real dump
    for secret in (login.password, login.token, totp_secret):
        assert secret.encode() not in dump, "a plaintext secret is in the dump"
    assert not PRIVATE_KEY_MARKERS.search(dump)
    for fragment in _key_fragments(client_key):
        assert fragment not in dump, "key material is in the dump"

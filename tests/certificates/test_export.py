"""Exports open in Java's keytool and in OpenSSL; they are audited and need the right permissions."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from certvault.audit.models import AuditEvent
from certvault.auth.rbac import Actor, Role
from certvault.container import App
from certvault.errors import Forbidden, InvalidInput
from tests.certificates.factory import make_leaf

ADMIN = Actor.system("test", via="cli")
PASSWORD = "export-pw-1"


@pytest.fixture
def stored(sqlite_app: App, test_ca):
    leaf = make_leaf(test_ca, "shop.example.com", ["shop.example.com", "www.shop.example.com"])
    with sqlite_app.transaction() as svc:
        entry_id = svc.certificates.import_data(ADMIN, leaf.pem + test_ca.pem + leaf.key_pem, "shop.pem").entry_ids[0]
    return sqlite_app, entry_id, leaf


def export(app: App, entry_id, tmp_path: Path, fmt: str, **options) -> Path:
    with app.transaction() as svc:
        result = svc.certificates.export(ADMIN, entry_id, fmt=fmt, **options)
    out = tmp_path / result.filename
    out.write_bytes(result.content)
    return out


def keytool_list(path: Path, storetype: str) -> str:
    result = subprocess.run(["keytool", "-list", "-v", "-keystore", str(path), "-storetype", storetype,
                             "-storepass", PASSWORD], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_pkcs12_with_key_and_chain_opens_in_keytool_and_openssl(stored, tmp_path: Path, test_ca) -> None:
    app, entry_id, leaf = stored
    p12 = export(app, entry_id, tmp_path, "pkcs12", with_key=True, password=PASSWORD)
    listing = keytool_list(p12, "PKCS12")
    assert "Entry type: PrivateKeyEntry" in listing and "Certificate chain length: 2" in listing
    assert "CN=shop.example.com" in listing and "CN=Inventory Test CA" in listing
    out = subprocess.run(["openssl", "pkcs12", "-in", str(p12), "-passin", f"pass:{PASSWORD}", "-nodes"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "BEGIN PRIVATE KEY" in out.stdout and out.stdout.count("BEGIN CERTIFICATE") == 2
    wrong = subprocess.run(["openssl", "pkcs12", "-in", str(p12), "-passin", "pass:wrong", "-nodes"],
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode != 0


def test_jks_with_key_opens_in_keytool(stored, tmp_path: Path) -> None:
    app, entry_id, _leaf = stored
    listing = keytool_list(export(app, entry_id, tmp_path, "jks", with_key=True, password=PASSWORD), "JKS")
    assert "Keystore type: JKS" in listing and "Entry type: PrivateKeyEntry" in listing
    assert "Certificate chain length: 2" in listing


def test_jks_and_pkcs12_without_key_hold_trusted_certificates(stored, tmp_path: Path) -> None:
    app, entry_id, _leaf = stored
    listing = keytool_list(export(app, entry_id, tmp_path, "jks", with_chain=False, password=PASSWORD), "JKS")
    assert "Your keystore contains 1 entry" in listing and "trustedCertEntry" in listing
    p12 = export(app, entry_id, tmp_path, "pkcs12", password=PASSWORD)
    out = subprocess.run(["openssl", "pkcs12", "-in", str(p12), "-passin", f"pass:{PASSWORD}", "-nokeys"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.count("BEGIN CERTIFICATE") == 2 and "PRIVATE KEY" not in out.stdout


def test_pem_with_encrypted_key(stored, tmp_path: Path) -> None:
    app, entry_id, leaf = stored
    pem = export(app, entry_id, tmp_path, "pem", with_key=True, password=PASSWORD).read_bytes()
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in pem and pem.count(b"BEGIN CERTIFICATE") == 2
    key = serialization.load_pem_private_key(pem, PASSWORD.encode())
    assert key.private_numbers() == leaf.key.private_numbers()
    plain = export(app, entry_id, tmp_path, "pem", with_chain=False).read_bytes()
    assert plain == leaf.pem


def test_exports_and_key_views_are_audited(stored) -> None:
    app, entry_id, _leaf = stored
    with app.transaction() as svc:
        svc.certificates.export(ADMIN, entry_id, fmt="pkcs12", with_key=True, password=PASSWORD)
        svc.certificates.current_key_pem(ADMIN, entry_id)
    with app.transaction() as svc:
        events = svc.session.scalars(select(AuditEvent).where(AuditEvent.target_id == str(entry_id))
                                     .order_by(AuditEvent.seq)).all()
    actions = [e.action for e in events]
    assert actions[-2:] == ["certificate.export", "certificate.key_view"]
    assert events[-2].details["format"] == "pkcs12" and events[-2].details["with_key"] is True
    assert PASSWORD not in str([e.details for e in events])


def test_export_refusals(stored) -> None:
    app, entry_id, _leaf = stored
    auditor = Actor(name="aud", role=Role.AUDITOR)
    user = Actor(name="usr", role=Role.USER)
    cases = [
        (ADMIN, {"fmt": "pkcs12"}, InvalidInput, "a password is needed to protect a PKCS12 file"),
        (ADMIN, {"fmt": "pem", "with_key": True}, InvalidInput, "a password is needed to protect a private key"),
        (ADMIN, {"fmt": "jks", "password": "123"}, InvalidInput, "at least 6 characters"),
        (ADMIN, {"fmt": "der"}, InvalidInput, "unknown export format 'der'"),
        (auditor, {"fmt": "pem"}, Forbidden, "may not certificates.export"),
        (user, {"fmt": "pem"}, Forbidden, "may not certificates.export"),
    ]
    for actor, options, error, message in cases:
        with pytest.raises(error, match=message), app.transaction() as svc:
            svc.certificates.export(actor, entry_id, **options)
    with pytest.raises(Forbidden), app.transaction() as svc:
        svc.certificates.current_key_pem(auditor, entry_id)

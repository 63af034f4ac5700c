"""The keystore type and password chosen on a request are what the inventory's export produces when
the user leaves them out (REST API and CLI), checked with openssl and keytool."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certvault.audit.service import AuditQuery
from certvault.container import App
from certvault.errors import InvalidInput
from certvault.issuance.requests import RequestSpec
from tests.conftest import api_client, create_login
from tests.issuance.conftest import ADMIN, dns_account, name, register, run_orders
from tests.servers import pebble as servers
from tests.servers.certvault_server import certvault_cli


def _issue(app: App, ca: servers.Pebble, dns: servers.ChallTestSrv, keystore: str, password: str) -> uuid.UUID:
    account, dns_id = register(app, ca), dns_account(app, dns).id
    with app.transaction() as svc:
        order = svc.issuance.requests.request(ADMIN, RequestSpec(
            account.id, [name("ks")], challenge="dns-01", dns_account_id=dns_id, keystore=keystore,
            keystore_password=password))
    run_orders(app)
    with app.transaction() as svc:
        order = svc.issuance.requests.get(ADMIN, order.id)
        assert order.state == "stored", order.error_message
        return order.certificate_entry_id  # type: ignore[no-any-return]


def _leaf_spki(app: App, entry_id: uuid.UUID) -> bytes:
    with app.transaction() as svc:
        leaf = x509.load_der_x509_certificate(svc.certificates.get(ADMIN, entry_id).current.der)
    return leaf.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def test_pkcs12_with_the_request_password_through_the_api(
        acme_app: App, pebble: servers.Pebble, challtestsrv: servers.ChallTestSrv, tmp_path: Path) -> None:
    entry_id = _issue(acme_app, pebble, challtestsrv, "pkcs12", "P12-secret-pass")
    login = create_login(acme_app, "administrator")
    with api_client(acme_app) as client:
        response = client.post(f"/api/v1/certificates/{entry_id}/export", json={"with_key": True},
                               headers=login.headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/x-pkcs12"
        # Asking for another format explicitly still works (and then needs its own password for a key).
        pem = client.post(f"/api/v1/certificates/{entry_id}/export", json={"format": "pem"}, headers=login.headers)
        assert pem.status_code == 200 and pem.text.startswith("-----BEGIN CERTIFICATE-----")
    p12 = tmp_path / "cert.p12"
    p12.write_bytes(response.content)
    opened = subprocess.run(["openssl", "pkcs12", "-in", str(p12), "-passin", "pass:P12-secret-pass", "-nodes"],
                            capture_output=True, text=True, timeout=30)
    assert opened.returncode == 0, opened.stderr
    key = subprocess.run(["openssl", "pkey", "-pubout", "-outform", "DER"], input=opened.stdout.encode(),
                         capture_output=True, timeout=30)
    assert key.returncode == 0 and key.stdout == _leaf_spki(acme_app, entry_id)  # the certificate's own key
    wrong = subprocess.run(["openssl", "pkcs12", "-in", str(p12), "-passin", "pass:not-the-password", "-nodes"],
                           capture_output=True, timeout=30)
    assert wrong.returncode != 0
    with acme_app.transaction() as svc:
        exports, _ = svc.audit.search(ADMIN, AuditQuery(action="certificate.export"))
        assert [e.details["as_requested"] for e in exports] == [False, True]  # newest first
        assert "P12-secret-pass" not in str([e.details for e in exports])


def test_jks_with_the_request_password_through_the_cli(
        sqlite_acme_app: App, pebble: servers.Pebble, challtestsrv: servers.ChallTestSrv, tmp_path: Path) -> None:
    acme_app = sqlite_acme_app  # the CLI opens the data directory's own database
    entry_id = _issue(acme_app, pebble, challtestsrv, "jks", "Jks-secret-pass")
    out = tmp_path / "cert.jks"
    result = certvault_cli(acme_app.settings.data_dir, "cert", "export", str(entry_id), "--with-key",
                           "--out", str(out))
    assert "jks written" in result.stdout
    listed = subprocess.run(["keytool", "-list", "-v", "-keystore", str(out), "-storepass", "Jks-secret-pass"],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "Keystore type: JKS" in listed.stdout and "Entry type: PrivateKeyEntry" in listed.stdout
    with acme_app.transaction() as svc:
        serial = x509.load_der_x509_certificate(svc.certificates.get(ADMIN, entry_id).current.der).serial_number
    assert f"Serial number: {serial:x}" in listed.stdout.replace("Serial number: 0", "Serial number: ")
    with acme_app.transaction() as svc, pytest.raises(InvalidInput, match="password is needed"):
        svc.certificates.export(ADMIN, entry_id, fmt="pkcs12", with_key=True)  # not the requested type

"""Mutual TLS and server trust for an integration account of any kind, shown on a webhook channel whose
receiver requires a client certificate: a keystore (PKCS#12 or JKS) or an internal CA client certificate
is offered, the trusted CA replaces the system store, and what cannot work is refused before it is stored."""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.crypto import pkcs12
from certvault.errors import CertvaultError
from certvault.vault.models import Secret
from tests.conftest import api_client, create_login, web_login
from tests.outbound.pki import Pki, make_pki
from tests.servers.test_ca import LoopbackTLS, make_loopback_tls
from tests.servers.webhook_receiver import WebhookReceiver

ADMIN = Actor.system("test")
PASSWORD = "keystore-pass-9"


class ClientCertRequired(LoopbackTLS):
    """The receiver's TLS: its loopback certificate, and a client certificate from `client_ca` required."""

    client_ca: Path

    def server_context(self) -> ssl.SSLContext:
        context = super().server_context()
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(str(self.client_ca))
        return context


@pytest.fixture
def pki() -> Pki:
    return make_pki("webhook client CA")


@pytest.fixture
def receiver(tmp_path: Path, pki: Pki) -> Any:
    tls = make_loopback_tls(tmp_path / "tls")
    required = ClientCertRequired(tls.ca_file, tls.cert_file, tls.key_file)
    required.client_ca = tmp_path / "client-ca.pem"
    from cryptography.hazmat.primitives.serialization import Encoding

    required.client_ca.write_bytes(pki.ca.cert.public_bytes(Encoding.PEM))
    hook = WebhookReceiver(required).start()
    yield hook, tls
    hook.stop()


def _keystore(pki: Pki) -> bytes:
    issued = pki.issue("certvault-webhook")
    return pkcs12.export("certvault", issued.key, issued.cert, [pki.ca.cert], PASSWORD)


def _send_test(app: App, channel: str) -> None:
    with app.transaction() as svc:
        message = svc.notifications.send_test(ADMIN, channel, by_job=False)
        delivery = svc.notifications.prepare_delivery(message.id)
    assert delivery is not None
    delivery.notifier.send(delivery.notification)


def _vault_secrets(app: App) -> int:
    with app.transaction() as svc:
        return int(svc.session.scalar(select(func.count()).select_from(Secret)) or 0)


def test_the_keystore_is_offered_and_the_given_ca_trusted(sqlite_app: App, receiver: Any, pki: Pki) -> None:
    hook, tls = receiver
    with sqlite_app.transaction() as svc:
        channel = svc.notifications.create_channel(ADMIN, "siem", "webhook", {"url": hook.url})
    with pytest.raises(CertvaultError) as refused:  # neither our CA trusted nor a client certificate
        _send_test(sqlite_app, "siem")
    assert "certificate" in refused.value.message and "\n" not in refused.value.message

    with sqlite_app.transaction() as svc:
        account = svc.integrations.secure(ADMIN, "notify", channel.id, keystore=_keystore(pki),
                                          keystore_password=PASSWORD, trusted_cert=tls.ca_file.read_bytes())
        assert account.client_identity["subject"] == "CN=certvault-webhook"
        assert account.connection["trust"] == "ca_bundle"
    _send_test(sqlite_app, "siem")
    assert len(hook.requests) == 1

    with sqlite_app.transaction() as svc:  # without the client certificate the receiver refuses the handshake
        svc.integrations.secure(ADMIN, "notify", "siem", clear_identity=True)
    with pytest.raises(CertvaultError):
        _send_test(sqlite_app, "siem")
    assert len(hook.requests) == 1


def test_a_keystore_that_cannot_work_is_refused_and_nothing_is_stored(sqlite_app: App, pki: Pki) -> None:
    with sqlite_app.transaction() as svc:
        svc.notifications.create_channel(ADMIN, "siem", "webhook", {"url": "https://127.0.0.1:9/hook"})
    before = _vault_secrets(sqlite_app)
    expired = pki.issue("old", end=timedelta(minutes=-1))
    cases = [
        (_keystore(pki), "wrong password", "password"),
        (pkcs12.export("c", None, pki.issue("no key").cert, [], PASSWORD), PASSWORD, "private key"),
        (pkcs12.export("c", expired.key, expired.cert, [], PASSWORD), PASSWORD, "expired"),
    ]
    for data, password, words in cases:
        with pytest.raises(CertvaultError) as refused, sqlite_app.transaction() as svc:
            svc.integrations.secure(ADMIN, "notify", "siem", keystore=data, keystore_password=password)
        assert words in refused.value.message and "\n" not in refused.value.message, refused.value.message
        assert PASSWORD not in refused.value.message
    with sqlite_app.transaction() as svc:
        assert svc.integrations.find("notify", "siem").client_identity == {}
    assert _vault_secrets(sqlite_app) == before


def test_an_internal_ca_client_certificate_is_offered(sqlite_app: App, tmp_path: Path) -> None:
    with sqlite_app.transaction() as svc:
        issued = svc.pki.issue_client(ADMIN, "itAuth")
        root = svc.pki.root_pem()
    tls = make_loopback_tls(tmp_path / "tls")
    required = ClientCertRequired(tls.ca_file, tls.cert_file, tls.key_file)
    required.client_ca = tmp_path / "internal-root.pem"
    required.client_ca.write_text(root)
    hook = WebhookReceiver(required).start()
    try:
        with sqlite_app.transaction() as svc:
            channel = svc.notifications.create_channel(ADMIN, "internal", "webhook", {"url": hook.url})
            serial = format(issued.certificate.serial_number, "x")
            account = svc.integrations.secure(ADMIN, "notify", channel.id, client_cert=serial,
                                              trusted_cert=tls.ca_file.read_bytes())
            assert account.client_identity["source"] == "internal_ca"
        _send_test(sqlite_app, "internal")
        assert len(hook.requests) == 1
    finally:
        hook.stop()


def test_api_and_cli_set_it_and_show_it_without_the_key(sqlite_app: App, pki: Pki, tmp_path: Path) -> None:
    with sqlite_app.transaction() as svc:
        svc.notifications.create_channel(ADMIN, "siem", "webhook", {"url": "https://127.0.0.1:9/hook"})
    login = create_login(sqlite_app, "administrator")
    client = api_client(sqlite_app)
    body = {"keystore": base64.b64encode(_keystore(pki)).decode(), "keystore_password": PASSWORD}
    answer = client.put("/api/v1/integrations/notify/siem/security", json=body, headers=login.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["client_identity"]["subject"] == "CN=certvault-webhook"
    assert PASSWORD not in answer.text and "PRIVATE KEY" not in answer.text
    wrong = client.put("/api/v1/integrations/notify/siem/security", headers=login.headers,
                       json={**body, "keystore_password": "nope"})
    assert wrong.status_code == 400 and "password" in wrong.json()["detail"], wrong.text

    keystore = tmp_path / "client.p12"
    keystore.write_bytes(_keystore(pki))
    env = {**os.environ, "CERTVAULT_KEYSTORE_PASSWORD": PASSWORD}
    run = subprocess.run([sys.executable, "-m", "certvault", "--data-dir", str(sqlite_app.settings.data_dir),
                          "notify", "channel", "secure", "siem", "--client-keystore", str(keystore),
                          "--no-trusted-cert", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    shown = json.loads(run.stdout)
    assert shown["client_identity"]["source"] == "keystore" and shown["trust"] == "system"


def test_the_integration_page_sets_it_and_shows_a_refusal_next_to_the_form(sqlite_app: App, pki: Pki) -> None:
    with sqlite_app.transaction() as svc:
        svc.notifications.create_channel(ADMIN, "siem", "webhook", {"url": "https://127.0.0.1:9/hook"})
        channel_id = svc.integrations.find("notify", "siem").id
    login = create_login(sqlite_app, "administrator")
    client = api_client(sqlite_app)
    csrf = web_login(client, login, "/integrations/notify")
    page = client.get("/integrations/notify").text
    assert "no client certificate" in page and "system trust store" in page
    store = ("client.p12", _keystore(pki), "application/x-pkcs12")
    refused = client.post(f"/integrations/notify/{channel_id}/security", files={"client_keystore": store},
                          data={"csrf_token": csrf, "keystore_password": "wrong"})
    assert refused.status_code == 400 and 'role="alert"' in refused.text and "password" in refused.text
    assert "{" not in refused.text.split('role="alert">')[1].split("</div>")[0]  # words, not JSON
    saved = client.post(f"/integrations/notify/{channel_id}/security", files={"client_keystore": store},
                        data={"csrf_token": csrf, "keystore_password": PASSWORD}, follow_redirects=True)
    assert saved.status_code == 200 and "Saved the mutual TLS and trust of siem" in saved.text
    assert "CN=certvault-webhook (keystore)" in saved.text and PASSWORD not in saved.text

"""Vault administration pages through the TestClient: service accounts (password shown once), notification
channels and subscriptions, the hardening report; each refuses people without the permission."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.conftest import web_login
from tests.vault.conftest import VaultScene, module_scene


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, sqlite_template: object) -> Iterator[VaultScene]:
    yield from module_scene(tmp_path_factory, sqlite_template, "web-admin")


def test_service_account_created_from_the_page_shows_its_password_once(scene: VaultScene) -> None:
    client = scene.client
    csrf = web_login(client, scene.admin, "/vault")
    form = client.get("/vault/service-accounts").text
    assert 'id="account-form"' in form and "Scan" in form
    created = client.post("/vault/service-accounts", data={
        "csrf_token": csrf, "name": "nessus", "folders": [scene.folders["Scan"]],
        "allowed_networks": "10.1.2.3/32, 10.9.0.0/16", "description": "scanner"})
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    password = re.search(r'id="created-password" value="([^"]+)"', created.text)
    assert password is not None and len(password.group(1)) >= 16
    again = client.get("/vault/service-accounts").text
    assert password.group(1) not in again and "10.1.2.3/32, 10.9.0.0/16" in again
    accounts = client.get("/api/v1/vault/service-accounts", headers=scene.admin.headers).json()
    nessus = next(a for a in accounts if a["name"] == "nessus")
    assert nessus["folders"] == ["Scan"] and nessus["allowed_networks"] == ["10.1.2.3/32", "10.9.0.0/16"]

    no_folder = client.post("/vault/service-accounts", data={"csrf_token": csrf, "name": "lonely"})
    assert no_folder.status_code == 400 and "at least one folder" in no_folder.text
    bad_net = client.post("/vault/service-accounts", data={"csrf_token": csrf, "name": "badnet",
                                                           "folders": [scene.folders["Scan"]],
                                                           "allowed_networks": "not-a-network"})
    assert bad_net.status_code == 400 and 'id="created-password"' not in bad_net.text
    names = {a["name"] for a in client.get("/api/v1/vault/service-accounts", headers=scene.admin.headers).json()}
    assert names == {"nessus"}

    web_login(client, scene.users["alice"], "/vault")
    assert client.get("/vault/service-accounts").status_code == 403


def test_notification_channels_and_subscriptions_from_the_page(scene: VaultScene) -> None:
    client = scene.client
    csrf = web_login(client, scene.admin, "/vault")
    added = client.post("/vault/notifications/channels", data={
        "csrf_token": csrf, "name": "soc-hook", "kind": "webhook", "url": "https://hooks.example.test/certvault",
        "secret": "hmac-signing-key"}, follow_redirects=False)
    assert added.status_code == 303
    page = client.get(added.headers["location"]).text
    assert "Channel added." in page and "soc-hook" in page and "kept sealed" in page
    assert "hmac-signing-key" not in page
    bad = client.post("/vault/notifications/channels", data={"csrf_token": csrf, "name": "mail", "kind": "email",
                                                             "host": "smtp.example.test", "recipients": "a@x.test"})
    assert bad.status_code == 400 and "sender" in bad.text

    channel_id = re.search(r'action="/vault/notifications/channels/([0-9a-f-]+)/test"', page)
    assert channel_id is not None
    channel = channel_id.group(1)
    assert client.post("/vault/notifications/subscriptions", data={
        "csrf_token": csrf, "channel": channel, "event": "service_account.*", "subject": "nessus"},
        follow_redirects=False).status_code == 303
    wrong_event = client.post("/vault/notifications/subscriptions", data={"csrf_token": csrf, "channel": channel,
                                                                         "event": "Not An Event"})
    assert wrong_event.status_code == 400 and "is not an event name" in wrong_event.text
    tested = client.post(f"/vault/notifications/channels/{channel}/test", data={"csrf_token": csrf},
                         follow_redirects=False)
    page = client.get(tested.headers["location"]).text
    assert "Test message queued" in page and "notification.test" in page and "service_account.*" in page
    assert client.post(f"/vault/notifications/channels/{channel}/disable", data={"csrf_token": csrf},
                       follow_redirects=False).status_code == 303
    channels = client.get("/api/v1/notifications/channels", headers=scene.admin.headers).json()
    assert [(c["name"], c["enabled"], c["has_secret"]) for c in channels] == [("soc-hook", False, True)]
    subscription = re.search(r'action="/vault/notifications/subscriptions/([0-9a-f-]+)/delete"',
                             client.get("/vault/notifications").text)
    assert subscription is not None
    assert client.post(f"/vault/notifications/subscriptions/{subscription.group(1)}/delete",
                       data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert client.post(f"/vault/notifications/channels/{channel}/delete", data={"csrf_token": csrf},
                       follow_redirects=False).status_code == 303
    assert client.get("/api/v1/notifications/channels", headers=scene.admin.headers).json() == []

    web_login(client, scene.users["bob"], "/vault")
    assert client.get("/vault/notifications").status_code == 403


def test_hardening_report_page(scene: VaultScene) -> None:
    web_login(scene.client, scene.admin, "/vault")
    page = scene.client.get("/vault/hardening")
    assert page.status_code == 200
    for check, raw in (("HTTPS only", "https_forced"), ("TLS versions", "tls_versions"),
                       ("Web services", "web_services"), ("Master key age", "master_key_age")):
        assert check in page.text and raw not in page.text  # in words
    web_login(scene.client, scene.users["alice"], "/vault")
    assert scene.client.get("/vault/hardening").status_code == 403

"""REST: the ticket list (auditors read it, only administrators sync), help-desk settings with a client
keystore checked when given (wrong password or no key refused, nothing stored, never shown back)."""

from __future__ import annotations

import base64
import uuid

from fastapi.testclient import TestClient

from certvault.container import App
from certvault.crypto import pkcs12
from tests.conftest import create_login
from tests.outbound.pki import make_pki, pem
from tests.tickets import double
from tests.tickets.seed import ADMIN, certificate, import_certificate
from tests.tickets.test_rules import sync


def _desk(app: App) -> double.Store:
    app.process.plugins.register("ticketing", "double", double.DoubleDesk)
    name = uuid.uuid4().hex
    with app.transaction() as svc:
        svc.integrations.add(ADMIN, "ticketing", "double", "desk", {"store": name}, {"token": "t"})
    return double.STORES.setdefault(name, double.Store())


def test_ticket_list_and_sync_permissions(app: App, client: TestClient) -> None:
    _desk(app)
    import_certificate(app, certificate("api.example.com", 7))
    sync(app)
    admin, auditor = create_login(app, "administrator"), create_login(app, "auditor")
    (row,) = client.get("/api/v1/tickets", headers=auditor.headers).json()
    assert (row["helpdesk"], row["kind"], row["sync_state"]) == ("desk", "expiry", "ok")
    assert row["number"].startswith("D-") and row["url"].endswith(row["number"])
    assert client.post("/api/v1/tickets/sync", headers=auditor.headers).status_code == 403
    assert client.post("/api/v1/tickets/sync", headers=admin.headers).status_code == 202


def test_settings_check_the_keystore_and_never_show_it(app: App, client: TestClient) -> None:
    _desk(app)
    admin = create_login(app, "administrator")
    pki = make_pki("api client CA")
    good = pki.issue("certvault-client")
    store = pkcs12.export("certvault", good.key, good.cert, [], "right-pass")
    body = {"client_keystore_b64": base64.b64encode(store).decode(), "keystore_password": "wrong-pass"}
    refused = client.put("/api/v1/tickets/helpdesks/desk/settings", json=body, headers=admin.headers)
    assert refused.status_code == 400 and "password" in refused.json()["detail"]
    shown = client.get("/api/v1/tickets/helpdesks/desk", headers=admin.headers).json()
    assert shown["client_identity"] is None
    body.update(keystore_password="right-pass", trusted_cert=pem(pki.ca.cert).decode(), expiry_tickets=False)
    saved = client.put("/api/v1/tickets/helpdesks/desk/settings", json=body, headers=admin.headers)
    assert saved.status_code == 200, saved.text
    out = saved.json()
    assert out["client_identity"]["subject"] == "CN=certvault-client" and out["expiry_tickets"] is False
    assert out["trust"] == "ca_bundle" and "right-pass" not in saved.text
    assert out["vulnerability_tickets"] is True and out["resolve_on_renewal"] is True


def test_a_client_certificate_of_the_internal_ca_is_offered(app: App, client: TestClient) -> None:
    _desk(app)
    admin = create_login(app, "administrator")
    with app.transaction() as svc:
        issued = svc.pki.issue_client(ADMIN, "helpdesk-client")
        serial = issued.record.serial
    saved = client.put("/api/v1/tickets/helpdesks/desk/settings", json={"client_cert": serial},
                       headers=admin.headers)
    assert saved.status_code == 200, saved.text
    assert saved.json()["client_identity"]["subject"].startswith("CN=helpdesk-client")
    with app.transaction() as svc:  # the help desk's client is built with certificate and key from the inventory
        account = svc.integrations.find("ticketing", "desk")
        assert account.client_identity["source"] == "internal_ca"
        assert svc.tickets.helpdesk(account, "test") is not None
    missing = client.put("/api/v1/tickets/helpdesks/desk/settings", json={"client_cert": "ffff"},
                         headers=admin.headers)
    assert missing.status_code == 404 and "internal CA" in missing.json()["detail"]


def test_an_uploaded_client_certificate_is_tracked_in_the_inventory(app: App, client: TestClient) -> None:
    _desk(app)
    admin = create_login(app, "administrator")
    pki = make_pki("tracked client CA")
    good = pki.issue("tracked-client")
    store = pkcs12.export("certvault", good.key, good.cert, [], "pw-1")
    body = {"client_keystore_b64": base64.b64encode(store).decode(), "keystore_password": "pw-1"}
    assert client.put("/api/v1/tickets/helpdesks/desk/settings", json=body, headers=admin.headers).status_code == 200
    listed = client.get("/api/v1/certificates", params={"q": "tracked-client"}, headers=admin.headers).json()
    items = listed["items"] if isinstance(listed, dict) else listed
    assert any("tracked-client" in str(item) for item in items)

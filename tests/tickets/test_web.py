"""Web: the ticket list (links into the help desk, pending and failed shown) and the help-desk page (ticket
options, keystore refused in words next to its form, test connection)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from certvault.container import App
from certvault.crypto import pkcs12
from tests.conftest import create_login, web_login
from tests.outbound.pki import make_pki
from tests.tickets.seed import certificate, import_certificate
from tests.tickets.test_api import _desk
from tests.tickets.test_rules import sync


def test_ticket_list_shows_links_and_pending(sqlite_app: App, sqlite_client: TestClient) -> None:
    store = _desk(sqlite_app)
    import_certificate(sqlite_app, certificate("web.example.com", 7))
    import_certificate(sqlite_app, certificate("later.example.com", 8), "later.pem")
    store.down = 10**6
    sync(sqlite_app)
    store.down = 0
    csrf = web_login(sqlite_client, create_login(sqlite_app, "administrator"), "/tickets")
    html = sqlite_client.get("/tickets").text
    assert "<strong>Pending</strong> (Create)" in html and "connection refused" in html
    sync(sqlite_app)
    html = sqlite_client.get("/tickets").text
    assert 'href="https://double.test/D-1"' in html and "web.example.com" in html and "Pending</strong>" not in html
    queued = sqlite_client.post("/tickets/sync", data={"csrf_token": csrf}, follow_redirects=False)
    assert queued.status_code == 303 and queued.headers["location"] == "/tickets?synced=1"


def test_helpdesk_page_saves_options_and_refuses_a_bad_keystore(sqlite_app: App, sqlite_client: TestClient) -> None:
    _desk(sqlite_app)
    csrf = web_login(sqlite_client, create_login(sqlite_app, "administrator"), "/tickets/helpdesks")
    page = sqlite_client.get("/tickets/helpdesks").text
    assert "Test connection" in page and "system trust store" in page
    pki = make_pki("web client CA")
    good = pki.issue("web-client")
    store = pkcs12.export("certvault", good.key, good.cert, [], "right")
    refused = sqlite_client.post("/tickets/helpdesks/desk/settings",
                                 data={"csrf_token": csrf, "expiry_tickets": "yes", "keystore_password": "wrong"},
                                 files={"client_keystore": ("client.p12", store, "application/x-pkcs12")})
    assert refused.status_code == 400 and 'role="alert"' in refused.text and "password" in refused.text
    assert "{" not in refused.text.split('role="alert">')[1][:80]  # words, not JSON
    saved = sqlite_client.post("/tickets/helpdesks/desk/settings",
                               data={"csrf_token": csrf, "expiry_tickets": "yes", "keystore_password": "right"},
                               files={"client_keystore": ("client.p12", store, "application/x-pkcs12")},
                               follow_redirects=True)
    assert saved.status_code == 200 and "CN=web-client (keystore)" in saved.text
    assert 'name="vulnerability_tickets" value="yes" checked' not in saved.text  # unticked: off
    tested = sqlite_client.post("/tickets/helpdesks/desk/test", data={"csrf_token": csrf})
    assert "Connection works: double help desk" in tested.text

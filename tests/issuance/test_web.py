"""ACME web pages: refused input comes back on the same page with the reason and what was typed."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from certvault.container import App
from tests.conftest import create_login, web_login


def test_request_and_account_forms_show_errors_in_place(sqlite_app: App, sqlite_client: TestClient) -> None:
    csrf = web_login(sqlite_client, create_login(sqlite_app, "administrator"), "/acme/request")

    refused = sqlite_client.post(
        "/acme/request",
        data={"csrf_token": csrf, "account_id": str(uuid.uuid4()), "domains": "*.wild.test", "challenge": "http-01"},
    )
    assert refused.status_code == 404 and "no ACME account" in refused.text
    assert "<h1>Request a certificate</h1>" in refused.text or "Request a certificate" in refused.text

    bad_directory = sqlite_client.post(
        "/acme/accounts",
        data={
            "csrf_token": csrf,
            "directory": "http://127.0.0.1:9/directory",
            "email": "ops@example.test",
            "agree_tos": "yes",
            "eab_kid": "kid-1",
            "eab_hmac": "c2VjcmV0LWhtYWMta2V5",
        },
    )
    assert bad_directory.status_code >= 400
    assert 'value="ops@example.test"' in bad_directory.text and 'value="kid-1"' in bad_directory.text
    assert "c2VjcmV0LWhtYWMta2V5" not in bad_directory.text  # the EAB HMAC key is never echoed

    unconfirmed = sqlite_client.post(f"/acme/accounts/{uuid.uuid4()}/delete", data={"csrf_token": csrf})
    assert unconfirmed.status_code == 400 and "tick the confirmation box first" in unconfirmed.text
    assert sqlite_client.get("/acme/accounts").status_code == 200

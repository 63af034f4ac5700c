"""Every answer carries the security headers; pages with secrets are never cached; scripts only from /static."""

from __future__ import annotations

from fastapi.testclient import TestClient

from certvault.container import App
from tests.conftest import create_login


def test_api_answers_pages_and_static_files_carry_the_security_headers(sqlite_app: App,
                                                                        sqlite_client: TestClient) -> None:
    login = create_login(sqlite_app, "administrator")
    for response in (sqlite_client.get("/api/v1/health"), sqlite_client.get("/api/v1/audit", headers=login.headers),
                     sqlite_client.get("/login"), sqlite_client.get("/api/v1/audit")):
        assert response.headers["strict-transport-security"] == "max-age=31536000"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
    login_page = sqlite_client.get("/login").text
    assert "<script>" not in login_page  # inline scripts would be blocked by the CSP
    script = sqlite_client.get("/static/vault.js")
    assert script.status_code == 200 and "navigator.clipboard" in script.text
    assert "no-store" not in script.headers.get("cache-control", "")
    assert script.headers["x-content-type-options"] == "nosniff"

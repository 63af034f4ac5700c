"""Token lifetime policy: a maximum lifetime (security.token_max_days) the API enforces, never-expiring
tokens only when there is no maximum, no tokens minted by service accounts, and with web services off no
service-account logins at all."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from certvault.auth.rbac import Actor
from certvault.auth.service import AuthService
from certvault.container import App
from certvault.db.base import utcnow
from tests.conftest import create_login, csrf_of

ADMIN = Actor.system("token-policy-test", via="cli")


def _service_account(app: App) -> str:
    with app.transaction() as svc:
        folder = svc.vault.folders.create(ADMIN, "Scan")
        _user, password = svc.vault.accounts.create(ADMIN, "scanner", [folder.id])
    return password


def _oauth(client: TestClient, username: str, password: str) -> Any:
    return client.post("/secretserver/oauth2/token",
                       data={"grant_type": "password", "username": username, "password": password})


def test_lifetimes_over_the_maximum_are_refused_with_422(app: App, client: TestClient) -> None:
    login = create_login(app, "operator")
    most = app.settings.security.token_max_days
    for days in (0, most + 1, 3650):
        answer = client.post("/api/v1/tokens", json={"name": "long", "days": days}, headers=login.headers)
        assert answer.status_code == 422, answer.text
        assert f"over the maximum of {most} days (setting security.token_max_days)" in answer.json()["detail"]
    made = client.post("/api/v1/tokens", json={"name": "max", "days": most}, headers=login.headers)
    assert made.status_code == 201
    default = client.post("/api/v1/tokens", json={"name": "default"}, headers=login.headers).json()
    assert default["info"]["expires_at"] is not None
    with app.transaction() as svc:  # an administrator may lift the maximum (0): then never-expiring is allowed
        unlimited = app.settings.security.model_copy(update={"token_max_days": 0})
        lifted = AuthService(svc.session, svc.audit, svc.sealer, unlimited)
        _plaintext, token = lifted.create_token(ADMIN, login.username, "forever", days=0)
        assert token.expires_at is None


def test_service_accounts_cannot_mint_tokens(app: App, client: TestClient) -> None:
    password = _service_account(app)
    oauth = _oauth(client, "scanner", password)
    assert oauth.status_code == 200
    short = {"Authorization": f"Bearer {oauth.json()['access_token']}"}
    with app.transaction() as svc:
        long_lived, _ = svc.auth.create_token(ADMIN, "scanner", "from-admin", days=30)  # an administrator may
        expires = svc.auth.list_tokens(ADMIN, "scanner")[0].expires_at
    assert expires is not None and expires - utcnow() < timedelta(minutes=21)  # the OAuth token: 20 minutes
    for headers in (short, {"Authorization": f"Bearer {long_lived}"}):
        for days in (None, 0, 1):
            answer = client.post("/api/v1/tokens", json={"name": "mine", "days": days}, headers=headers)
            assert answer.status_code == 403 and "service accounts cannot create API tokens" in answer.text
    with app.transaction() as svc:
        assert len(svc.auth.list_tokens(ADMIN, "scanner")) == 2


def test_with_web_services_off_service_accounts_cannot_log_in_anywhere(app: App, client: TestClient) -> None:
    password = _service_account(app)
    person = create_login(app, "user")
    with app.transaction() as svc:
        svc.system.set(ADMIN, "web_services.enabled", False)
    oauth = _oauth(client, "scanner", password)
    assert oauth.status_code == 403 and "web services are disabled" in oauth.json()["message"]
    api = client.post("/api/v1/auth/login", json={"username": "scanner", "password": password})
    assert api.status_code == 403 and "web services are disabled" in api.json()["detail"]
    form = csrf_of(client.get("/login").text)
    web = client.post("/login", data={"username": "scanner", "password": password, "next": "/", "csrf_token": form},
                      follow_redirects=False)
    assert web.status_code == 403 and "web services are disabled" in web.text
    wrong = client.post("/api/v1/auth/login", json={"username": "scanner", "password": "not-it"})
    assert wrong.status_code == 401  # without the right password it is a failed login like any other
    assert client.post("/api/v1/auth/login", json={"username": person.username,
                                                   "password": person.password}).status_code == 200
    with app.transaction() as svc:
        svc.system.set(ADMIN, "web_services.enabled", True)
    assert client.post("/api/v1/auth/login", json={"username": "scanner", "password": password}).status_code == 200

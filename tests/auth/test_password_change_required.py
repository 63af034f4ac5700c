"""While an account must replace its password (the first administrator's printed one-time password, an
administrator's reset), it can change the password and log out, nothing else, on every edge: REST, token
creation, Secret Server's OAuth grant and API, Vault KV, the vault's direct read route. Login still answers."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from certvault.auth.rbac import Actor
from certvault.container import App
from tests.conftest import create_login

NEW_PASSWORD = "Brand-new-pass-1"


def _oauth(client: TestClient, username: str, password: str) -> Any:
    return client.post("/secretserver/oauth2/token",
                       data={"grant_type": "password", "username": username, "password": password})


def _refused(response: Any) -> None:
    assert response.status_code == 403, response.text
    assert "password change is required" in response.text, response.text


def test_the_printed_one_time_password_can_only_change_the_password(app: App, client: TestClient) -> None:
    with app.transaction() as svc:
        one_time = svc.auth.bootstrap_admin()
    assert one_time
    login = client.post("/api/v1/auth/login", json={"username": "admin", "password": one_time})
    assert login.status_code == 200 and login.json()["password_change_required"] is True
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}

    _refused(client.get("/api/v1/certificates"))
    _refused(client.get("/api/v1/users/me"))
    _refused(client.post("/api/v1/tokens", json={"name": "forever", "days": 0}, headers=csrf))
    _refused(client.post("/api/v1/tokens", json={"name": "ci"}, headers=csrf))
    oauth = _oauth(client, "admin", one_time)
    assert oauth.status_code == 403 and oauth.json()["error"] == "access_denied"
    assert "must replace the one-time password" in oauth.json()["error_description"]
    with app.transaction() as svc:
        assert svc.auth.list_tokens(Actor.system(), "admin") == []  # nothing was issued

    changed = client.post("/api/v1/users/me/password", headers=csrf,
                          json={"current_password": one_time, "new_password": NEW_PASSWORD})
    assert changed.status_code == 200, changed.text
    assert client.get("/api/v1/certificates").status_code == 200  # the same session now does everything
    assert client.post("/api/v1/tokens", json={"name": "ci"}, headers=csrf).status_code == 201
    assert _oauth(client, "admin", NEW_PASSWORD).status_code == 200
    assert _oauth(client, "admin", one_time).status_code == 400  # the one-time password is gone


def test_after_an_admin_reset_existing_tokens_are_refused_on_every_edge(app: App, client: TestClient) -> None:
    admin, ops = create_login(app, "administrator"), create_login(app, "operator", "ops")
    folder = client.post("/api/v1/vault/folders", json={"name": "Ops"}, headers=admin.headers).json()
    assert client.post(f"/api/v1/vault/folders/{folder['id']}/permissions", headers=admin.headers,
                       json={"principal": "ops", "level": "view"}).status_code == 200
    secret = client.post("/api/v1/vault/secrets", headers=admin.headers, json={
        "folder": folder["id"], "name": "db", "template": "password",
        "fields": {"username": "svc", "password": "Db-secret-1"}}).json()
    edges = {
        "rest": ("/api/v1/certificates", ops.headers),
        "direct vault read": (f"/api/v1/vault/secrets/{secret['id']}/values", ops.headers),
        "regular vault read": (f"/api/v1/vault/secrets/{secret['id']}/values?via=fastapi", ops.headers),
        "vault kv": ("/v1/secret/data/Ops/db", {"X-Vault-Token": ops.token}),
        "secret server": (f"/secretserver/api/v1/secrets/{secret['number']}", ops.headers),
    }
    for name, (path, headers) in edges.items():
        assert client.get(path, headers=headers).status_code == 200, name

    reset = client.post(f"/api/v1/users/{_user_id(client, admin, 'ops')}/password-reset", headers=admin.headers)
    assert reset.status_code == 200
    one_time = reset.json()["one_time_password"]
    for name, (path, headers) in edges.items():
        answer = client.get(path, headers=headers)
        assert answer.status_code == 403 and "password change is required" in answer.text, (name, answer.text)
    _refused(client.post("/api/v1/tokens", json={"name": "again"}, headers=ops.headers))
    assert _oauth(client, "ops", one_time).status_code == 403

    changed = client.post("/api/v1/users/me/password", headers=ops.headers,
                          json={"current_password": one_time, "new_password": NEW_PASSWORD})
    assert changed.status_code == 200, changed.text
    for name, (path, headers) in edges.items():
        assert client.get(path, headers=headers).status_code == 200, name


def _user_id(client: TestClient, admin: Any, username: str) -> str:
    users = client.get("/api/v1/users", headers=admin.headers).json()
    return str(next(u["id"] for u in users if u["username"] == username))

"""Logins, sessions with CSRF, tokens, users and groups through the REST API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from certvault.container import App
from tests.conftest import create_login


def test_session_login_requires_csrf_for_changes(sqlite_app: App, sqlite_client: TestClient) -> None:
    login = create_login(sqlite_app, "administrator")
    response = sqlite_client.post("/api/v1/auth/login", json={"username": login.username,
                                                              "password": login.password})
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["username"] == login.username and body["password_change_required"] is False
    cookie = response.cookies.get("cv_session")
    assert cookie and "httponly" in response.headers["set-cookie"].lower()
    set_cookie = response.headers["set-cookie"].lower()
    assert "secure" in set_cookie and "samesite=strict" in set_cookie
    assert sqlite_client.get("/api/v1/users/me").json()["username"] == login.username
    refused = sqlite_client.post("/api/v1/groups", json={"name": "ops"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    created = sqlite_client.post("/api/v1/groups", json={"name": "ops"},
                                 headers={"X-CSRF-Token": body["csrf_token"]})
    assert created.status_code == 201
    assert sqlite_client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]}).status_code == 200
    assert sqlite_client.get("/api/v1/users/me").status_code == 401


def test_wrong_password_gives_401_and_is_audited(sqlite_app: App, sqlite_client: TestClient) -> None:
    login = create_login(sqlite_app, "user")
    admin = create_login(sqlite_app, "administrator")
    response = sqlite_client.post("/api/v1/auth/login", json={"username": login.username, "password": "nope"})
    assert response.status_code == 401 and response.json()["detail"] == "invalid username or password"
    events = sqlite_client.get("/api/v1/audit", params={"action": "auth.login", "outcome": "failure"},
                               headers=admin.headers).json()
    assert events["total"] == 1 and events["items"][0]["actor_name"] == login.username


def test_tokens_are_shown_once_and_can_be_revoked(sqlite_app: App, sqlite_client: TestClient) -> None:
    login = create_login(sqlite_app, "operator")
    created = sqlite_client.post("/api/v1/tokens", json={"name": "ci", "days": 7}, headers=login.headers)
    assert created.status_code == 201
    token = created.json()["token"]
    listed = sqlite_client.get("/api/v1/tokens", headers=login.headers).json()
    assert {t["name"] for t in listed} == {"fixture", "ci"}
    assert all(token not in str(t) for t in listed)
    new_headers = {"Authorization": f"Bearer {token}"}
    assert sqlite_client.get("/api/v1/users/me", headers=new_headers).status_code == 200
    token_id = created.json()["info"]["id"]
    assert sqlite_client.delete(f"/api/v1/tokens/{token_id}", headers=login.headers).status_code == 200
    assert sqlite_client.get("/api/v1/users/me", headers=new_headers).status_code == 401


def test_admin_manages_users_and_groups(sqlite_app: App, sqlite_client: TestClient) -> None:
    admin = create_login(sqlite_app, "administrator")
    created = sqlite_client.post("/api/v1/users", json={"username": "carol", "role": "auditor",
                                                        "allowed_networks": ["10.0.0.0/8"]}, headers=admin.headers)
    assert created.status_code == 201
    assert created.json()["one_time_password"] and created.json()["user"]["must_change_password"] is True
    bad = sqlite_client.post("/api/v1/users", json={"username": "dave", "allowed_networks": ["10.0.0.300/8"]},
                             headers=admin.headers)
    assert bad.status_code == 400 and "10.0.0.300/8" in bad.json()["detail"]
    dup = sqlite_client.post("/api/v1/users", json={"username": "carol"}, headers=admin.headers)
    assert dup.status_code == 409
    group = sqlite_client.post("/api/v1/groups", json={"name": "auditors"}, headers=admin.headers).json()
    member = sqlite_client.post(f"/api/v1/groups/{group['id']}/members", json={"user": "carol"},
                                headers=admin.headers)
    assert member.json()["members"] == ["carol"]
    user_id = created.json()["user"]["id"]
    updated = sqlite_client.patch(f"/api/v1/users/{user_id}", json={"role": "operator"}, headers=admin.headers)
    assert updated.json()["role"] == "operator"


def test_the_last_administrator_cannot_be_demoted(sqlite_app: App, sqlite_client: TestClient) -> None:
    admin = create_login(sqlite_app, "administrator")
    me = sqlite_client.get("/api/v1/users/me", headers=admin.headers).json()
    response = sqlite_client.patch(f"/api/v1/users/{me['id']}", json={"role": "user"}, headers=admin.headers)
    assert response.status_code == 409 and "last active administrator" in response.json()["detail"]

"""A login for an IP-restricted account from an address it may not use answers exactly like any failed login
(nothing tells a caller that the name exists or has a rule); the audit log records the real reason."""

from __future__ import annotations

from fastapi.testclient import TestClient

from certvault.audit.service import AuditQuery
from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.server import create_server
from tests.conftest import create_login, csrf_of


def test_a_disallowed_address_is_answered_like_a_wrong_password(app: App) -> None:
    fenced = create_login(app, "user", "fenced", allowed_networks=["10.0.0.0/8"])
    other = create_login(app, "user")
    with TestClient(create_server(app), base_url="https://testserver", client=("192.0.2.9", 4000)) as client:
        def api(username: str, password: str) -> tuple[int, object]:
            answer = client.post("/api/v1/auth/login", json={"username": username, "password": password})
            return answer.status_code, answer.json()

        def oauth(username: str, password: str) -> tuple[int, object]:
            answer = client.post("/secretserver/oauth2/token",
                                 data={"grant_type": "password", "username": username, "password": password})
            return answer.status_code, answer.json()

        def web(username: str, password: str) -> tuple[int, bool, bool]:
            form = csrf_of(client.get("/login").text)
            answer = client.post("/login", data={"username": username, "password": password, "next": "/",
                                                 "csrf_token": form})
            return answer.status_code, "invalid username or password" in answer.text, "not allowed" in answer.text

        for edge in (api, oauth, web):
            assert edge("fenced", fenced.password) == edge(other.username, "wrong-password"), edge.__name__
        assert api("fenced", fenced.password) == (401, api("no-such-user", "x")[1])
    with app.transaction() as svc:
        rows, _ = svc.audit.search(Actor.system(), AuditQuery(action="auth.login", actor="fenced", limit=50))
    assert rows and {(e.outcome, e.details["reason"], e.ip) for e in rows} == {
        ("denied", "address not allowed", "192.0.2.9")}

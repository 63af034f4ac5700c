"""Changing a password ends the user's other sessions (not the one making the change) and, when asked,
revokes their API tokens; an administrator's reset ends every session of the user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.server import create_server
from tests.conftest import create_login, csrf_of, web_login

NEW, NEWER = "Second-pass-22", "Third-pass-333"


@pytest.fixture
def browsers(app: App) -> Iterator[Any]:
    """`browsers(n)`: n clients of one server, each with its own cookies (its own session)."""
    server = create_server(app)
    made: list[TestClient] = []

    def make(n: int) -> list[TestClient]:
        made.extend(TestClient(server, base_url="https://testserver") for _ in range(n))
        return made[-n:]

    yield make
    for client in made:
        client.close()


def _api_login(client: TestClient, username: str, password: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return {"X-CSRF-Token": answer.json()["csrf_token"]}


def _me(client: TestClient, headers: dict[str, str] | None = None) -> int:
    return client.get("/api/v1/users/me", headers=headers or {}).status_code


def test_a_change_ends_the_other_sessions_and_optionally_the_tokens(app: App, browsers: Any) -> None:
    login = create_login(app, "user")
    here, there = browsers(2)
    csrf = _api_login(here, login.username, login.password)
    _api_login(there, login.username, login.password)
    second = here.post("/api/v1/tokens", json={"name": "second"}, headers=csrf).json()["token"]
    tokens = [login.headers, {"Authorization": f"Bearer {second}"}]

    changed = here.post("/api/v1/users/me/password", headers=csrf,
                        json={"current_password": login.password, "new_password": NEW})
    assert changed.status_code == 200
    assert (_me(here), _me(there)) == (200, 401)  # this session stays, the other one ended
    assert [_me(there, t) for t in tokens] == [200, 200]  # tokens stay unless asked

    _api_login(there, login.username, NEW)
    changed = here.post("/api/v1/users/me/password", headers=csrf,
                        json={"current_password": NEW, "new_password": NEWER, "revoke_tokens": True})
    assert changed.status_code == 200
    assert (_me(here), _me(there)) == (200, 401)
    assert [_me(there, t) for t in tokens] == [401, 401]
    with app.transaction() as svc:
        rows, _ = svc.audit.search(Actor.system(), _query("user.password_change", login.username))
    assert sorted((r.details for r in rows), key=len) == [
        {"sessions_ended": 1}, {"sessions_ended": 1, "api_credentials_revoked": 2}]


def test_a_change_made_with_a_token_keeps_that_token(app: App, browsers: Any) -> None:
    login = create_login(app, "user")
    (browser,) = browsers(1)
    _api_login(browser, login.username, login.password)
    with app.transaction() as svc:
        other, _ = svc.auth.create_token(Actor.system(), login.username, "other")
    changed = browser.post("/api/v1/users/me/password", headers=login.headers,
                           json={"current_password": login.password, "new_password": NEW, "revoke_tokens": True})
    assert changed.status_code == 200
    assert _me(browser, login.headers) == 200
    assert _me(browser, {"Authorization": f"Bearer {other}"}) == 401
    assert _me(browser) == 401  # the browser session was another credential: it ended


def test_an_admin_reset_ends_every_session(app: App, browsers: Any) -> None:
    admin, login = create_login(app, "administrator"), create_login(app, "user")
    one, two = browsers(2)
    _api_login(one, login.username, login.password)
    _api_login(two, login.username, login.password)
    user_id = one.get("/api/v1/users/me").json()["id"]
    reset = one.post(f"/api/v1/users/{user_id}/password-reset", headers=admin.headers)
    assert reset.status_code == 200
    assert (_me(one), _me(two)) == (401, 401)
    with app.transaction() as svc:
        rows, _ = svc.audit.search(Actor.system(), _query("user.password_reset", admin.username))
    assert [r.details for r in rows] == [{"sessions_ended": 2}]


def test_the_web_form_ends_other_sessions_and_its_checkbox_revokes_tokens(app: App, browsers: Any) -> None:
    login = create_login(app, "user")
    here, there = browsers(2)
    web_login(here, login)
    web_login(there, login)
    page = here.get("/account/password")
    assert 'name="revoke_tokens"' in page.text
    changed = here.post("/account/password", follow_redirects=False, data={
        "csrf_token": csrf_of(page.text), "current_password": login.password, "new_password": NEW,
        "revoke_tokens": "1"})
    assert changed.status_code == 303 and changed.headers["location"] == "/account?done=password"
    assert here.get("/", follow_redirects=False).status_code == 200
    gone = there.get("/", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
    assert _me(there, login.headers) == 401


def _query(action: str, actor: str) -> Any:
    from certvault.audit.service import AuditQuery

    return AuditQuery(action=action, actor=actor, limit=50)


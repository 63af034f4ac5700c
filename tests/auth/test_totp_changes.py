"""Two-factor authentication cannot be switched off silently: enrolling again and disabling need the current
password and a current code (or an administrator's reset), every change and refusal is audited, and a code
is accepted once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyotp
from fastapi.testclient import TestClient

from certvault.container import App
from certvault.errors import Unauthenticated
from tests.conftest import Login, create_login


def _code(secret: str, steps: int = 0) -> str:
    """The code `steps` time steps from now (the server accepts one step either side for clock skew)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def _enrol(client: TestClient, login: Login) -> str:
    begun = client.post("/api/v1/users/me/totp", json={"password": login.password}, headers=login.headers)
    assert begun.status_code == 200, begun.text
    secret = str(begun.json()["secret"])
    confirmed = client.post("/api/v1/users/me/totp/confirm", json={"code": _code(secret, -1)}, headers=login.headers)
    assert confirmed.status_code == 200, confirmed.text
    return secret


def _login(client: TestClient, login: Login, code: str | None = None) -> Any:
    return client.post("/api/v1/auth/login", json={"username": login.username, "password": login.password,
                                                   "totp": code})


def _audit(client: TestClient, admin: Login, action: str, actor: str) -> list[tuple[str, Any]]:
    rows = client.get("/api/v1/audit", params={"action": action, "limit": 100}, headers=admin.headers).json()
    return [(r["outcome"], r["details"]) for r in rows["items"] if r["actor_name"] == actor]


def test_enrolling_again_or_disabling_without_password_and_code_is_refused_and_audited(
        app: App, client: TestClient) -> None:
    admin, user = create_login(app, "administrator"), create_login(app, "user")
    secret = _enrol(client, user)
    attempts = [{}, {"password": "not-my-password"}, {"password": user.password},
                {"password": user.password, "code": _code(secret, -1)}]  # the last: the code already used
    answers = [client.post("/api/v1/users/me/totp", json=body, headers=user.headers) for body in attempts]
    assert [a.status_code for a in answers] == [422, 403, 403, 403]
    assert "current password" in answers[1].json()["detail"]
    disable = client.post("/api/v1/users/me/totp/disable", json={"password": user.password, "code": "000000"},
                          headers=user.headers)
    assert disable.status_code == 403
    assert client.get("/api/v1/users/me", headers=user.headers).json()["totp_enabled"] is True
    refused = _login(client, user)
    assert refused.status_code == 401 and "TOTP code is required" in refused.json()["detail"]

    enrol_rows = _audit(client, admin, "user.totp_enrol", user.username)
    assert sorted(outcome for outcome, _ in enrol_rows) == ["failure", "failure", "failure", "success"]
    assert {d["reason"] for o, d in enrol_rows if o == "failure"} == {
        "current password wrong", "TOTP code missing, wrong or already used"}
    assert [o for o, _ in _audit(client, admin, "user.totp_enable", user.username)] == ["success"]
    assert [o for o, _ in _audit(client, admin, "user.totp_disable", user.username)] == ["failure"]

    disabled = client.post("/api/v1/users/me/totp/disable", json={"password": user.password, "code": _code(secret)},
                           headers=user.headers)
    assert disabled.status_code == 200
    assert client.get("/api/v1/users/me", headers=user.headers).json()["totp_enabled"] is False
    assert sorted(o for o, _ in _audit(client, admin, "user.totp_disable", user.username)) == ["failure", "success"]


def test_a_code_is_accepted_once(app: App, client: TestClient) -> None:
    admin, user = create_login(app, "administrator"), create_login(app, "user")
    secret = _enrol(client, user)
    code = _code(secret)
    assert _login(client, user, code).status_code == 200
    replayed = _login(client, user, code)
    assert replayed.status_code == 401 and replayed.json()["detail"] == "invalid username or password"
    assert _login(client, user, _code(secret, -1)).status_code == 401  # the code that confirmed enrolment
    failures = [d for o, d in _audit(client, admin, "auth.login", user.username) if o == "failure"]
    assert failures == [{"reason": "wrong or already used TOTP code"}] * 2


def test_a_new_secret_waits_for_its_confirmation_and_an_admin_reset_is_audited(app: App, client: TestClient) -> None:
    admin, user = create_login(app, "administrator"), create_login(app, "user")
    old = _enrol(client, user)
    begun = client.post("/api/v1/users/me/totp", json={"password": user.password, "code": _code(old)},
                        headers=user.headers)
    assert begun.status_code == 200, begun.text
    assert _login(client, user, _code(old, 1)).status_code == 200  # the old secret works until the new is confirmed
    assert client.post("/api/v1/users/me/totp/confirm", json={"code": _code(str(begun.json()["secret"]), 1)},
                       headers=user.headers).status_code == 200
    assert [d for _, d in _audit(client, admin, "user.totp_enable", user.username)] == [
        {"replaced": True}, {"replaced": False}]

    me = client.get("/api/v1/users/me", headers=user.headers).json()
    assert client.delete(f"/api/v1/users/{me['id']}/totp", headers=user.headers).status_code == 403
    reset = client.delete(f"/api/v1/users/{me['id']}/totp", headers=admin.headers)
    assert reset.status_code == 200 and reset.json()["totp_enabled"] is False
    assert _login(client, user).status_code == 200
    rows = client.get("/api/v1/audit", params={"action": "user.totp_reset"}, headers=admin.headers).json()["items"]
    assert [(r["actor_name"], r["target_id"]) for r in rows] == [(admin.username, me["id"])]



def test_one_code_sent_twice_at_once_logs_in_once(app: App) -> None:
    login = create_login(app, "user")
    with app.transaction() as svc:
        actor = svc.auth.login(login.username, login.password, None)
        secret, _uri = svc.auth.totp_begin(actor, login.password)
        svc.auth.totp_confirm(actor, _code(secret, -1))
    code, barrier = _code(secret), threading.Barrier(2)

    def attempt(_: int) -> str:
        barrier.wait()
        try:
            with app.transaction() as svc:
                svc.auth.login(login.username, login.password, "192.0.2.1", code)
        except Unauthenticated:
            return "refused"
        return "in"

    with ThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(attempt, range(2))) == ["in", "refused"]

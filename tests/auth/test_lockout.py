"""An anonymous caller cannot lock a scanner out: failures lock the address they come from out of the account,
the account locks only when several addresses are locked out of it, an address over its own limit gets 429,
and a lockout stops logins only: tokens already issued keep answering. The lockout alert still fires."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from certvault.auth.jobs import PURGE_JOB
from certvault.auth.rbac import Actor
from certvault.auth.service import AuthService
from certvault.container import App
from certvault.db.base import utcnow
from certvault.errors import Unauthenticated
from certvault.server import create_server
from tests.conftest import create_login, csrf_of

ADMIN = Actor.system("lockout-test", via="cli")
ATTACKER, SCANNER_HOST = "198.51.100.66", "192.0.2.10"


@pytest.fixture
def at(app: App) -> Iterator[Any]:
    """`at(ip)`: a client of one server whose requests come from `ip`."""
    server = create_server(app)
    clients: dict[str, TestClient] = {}

    def client_at(ip: str) -> TestClient:
        if ip not in clients:
            clients[ip] = TestClient(server, base_url="https://testserver", client=(ip, 40000))
        return clients[ip]

    yield client_at
    for client in clients.values():
        client.close()


def _oauth(client: TestClient, username: str, password: str) -> Any:
    return client.post("/secretserver/oauth2/token",
                       data={"grant_type": "password", "username": username, "password": password})


def _audit(app: App, action: str) -> list[Any]:
    from certvault.audit.service import AuditQuery

    with app.transaction() as svc:
        return svc.audit.search(ADMIN, AuditQuery(action=action, limit=100))[0]


def test_wrong_passwords_from_one_address_leave_the_scanner_working(app: App, at: Any) -> None:
    with app.transaction() as svc:
        channel = svc.notifications.create_channel(ADMIN, "secops-hook", "webhook", {"url": "https://hooks.example/x"})
        folder = svc.vault.folders.create(ADMIN, "Scan")
        secret = svc.vault.secrets.create(ADMIN, folder.id, "linux-root", "password",
                                          {"username": "root", "password": "Root-pass-1"})
        _user, password = svc.vault.accounts.create(ADMIN, "scanner", [folder.id], alert_channels=[channel.name])
        api_token, _ = svc.auth.create_token(ADMIN, "scanner", "scanner-api", days=30)
        number = secret.number
    scanner, attacker = at(SCANNER_HOST), at(ATTACKER)
    oauth = _oauth(scanner, "scanner", password)
    assert oauth.status_code == 200
    tokens = {"oauth": oauth.json()["access_token"], "api": api_token}

    threshold = app.settings.security.lockout_threshold
    answers = [_oauth(attacker, "scanner", f"guess-{n}") for n in range(threshold + 1)]
    assert {(a.status_code, a.json()["error_description"]) for a in answers} == {(400, "invalid username or password")}

    for kind, token in tokens.items():  # issued tokens keep working on every edge
        bearer = {"Authorization": f"Bearer {token}"}
        assert scanner.get(f"/secretserver/api/v1/secrets/{number}", headers=bearer).status_code == 200, kind
        assert scanner.get("/v1/secret/data/Scan/linux-root", headers={"X-Vault-Token": token}).status_code == 200
    assert _oauth(scanner, "scanner", password).status_code == 200  # the owner's address still logs in
    assert _oauth(attacker, "scanner", password).status_code == 400  # the attacker's is locked out of it

    lockouts = _audit(app, "auth.lockout")
    assert [(e.actor_name, e.actor_kind, e.ip, e.details["scope"]) for e in lockouts] == [
        ("scanner", "service", ATTACKER, "address")]
    with app.transaction() as svc:
        assert svc.auth.get_user(ADMIN, "scanner").locked_until is None
    app.worker().run_until_idle()  # the notifications consumer reads the lockout event
    with app.transaction() as svc:
        alerts = [m.event for m in svc.notifications.list_outbox(ADMIN)]
    assert "service_account.locked" in alerts


def test_the_account_locks_only_when_many_addresses_are_locked_out_and_its_tokens_still_work(app: App,
                                                                                             at: Any) -> None:
    login = create_login(app, "operator")
    sec = app.settings.security
    addresses = [f"203.0.113.{n}" for n in range(1, sec.lockout_addresses + 1)]
    for number, ip in enumerate(addresses, 1):
        for _ in range(sec.lockout_threshold):
            at(ip).post("/api/v1/auth/login", json={"username": login.username, "password": "wrong"})
        with app.transaction() as svc:
            locked = svc.auth.get_user(ADMIN, login.username).locked_until is not None
        assert locked is (number == len(addresses)), number
    refused = at("203.0.113.200").post("/api/v1/auth/login", json={"username": login.username,
                                                                    "password": login.password})
    assert refused.status_code == 401 and refused.json()["detail"] == "invalid username or password"
    assert at("203.0.113.200").get("/api/v1/users/me", headers=login.headers).status_code == 200
    assert sorted(e.details["scope"] for e in _audit(app, "auth.lockout")) == ["account"] + ["address"] * len(addresses)
    with app.transaction() as svc:
        svc.auth.unlock(ADMIN, login.username)
    for ip in [*addresses, "203.0.113.200"]:
        answer = at(ip).post("/api/v1/auth/login", json={"username": login.username, "password": login.password})
        assert answer.status_code == 200, ip


def test_an_address_over_its_failure_limit_gets_429_without_locking_anyone(app: App, at: Any) -> None:
    sec = app.settings.security
    per_account = sec.lockout_threshold - 1  # spraying under the per-account threshold
    users = [create_login(app, "user") for _ in range(-(-sec.address_failure_limit // per_account))]
    sprayer, elsewhere = at(ATTACKER), at(SCANNER_HOST)
    tried = 0
    for user in users:
        for _ in range(per_account):
            if tried < sec.address_failure_limit:
                answer = sprayer.post("/api/v1/auth/login", json={"username": user.username, "password": "wrong"})
                assert answer.status_code == 401
                tried += 1
    blocked = sprayer.post("/api/v1/auth/login", json={"username": users[0].username, "password": users[0].password})
    assert blocked.status_code == 429 and "too many failed logins" in blocked.json()["detail"]
    assert _oauth(sprayer, users[0].username, users[0].password).status_code == 429
    form = csrf_of(sprayer.get("/login").text)
    web = sprayer.post("/login", follow_redirects=False, data={
        "username": users[0].username, "password": users[0].password, "next": "/", "csrf_token": form})
    assert web.status_code == 429 and "too many failed logins" in web.text
    for user in users:  # nobody is locked: the same accounts log in from another address
        answer = elsewhere.post("/api/v1/auth/login", json={"username": user.username, "password": user.password})
        assert answer.status_code == 200, user.username
    assert [e.ip for e in _audit(app, "auth.address_blocked")] == [ATTACKER]


def test_counters_are_forgotten_after_their_window_by_an_hourly_job(app: App) -> None:
    login = create_login(app, "user")
    with pytest.raises(Unauthenticated), app.transaction() as svc:
        svc.auth.login(login.username, "wrong", ATTACKER)
    sec = app.settings.security
    later = utcnow() + timedelta(minutes=max(sec.lockout_minutes, sec.address_block_minutes) + 1)
    with app.transaction() as svc:
        assert svc.auth.throttle.purge_expired() == 0  # still counting
        assert AuthService(svc.session, svc.audit, svc.sealer, sec, now=lambda: later).throttle.purge_expired() == 2
    assert PURGE_JOB in {schedule.job_name for schedule in app.schedules}


def test_concurrent_failures_are_all_counted_and_lock_once(app: App) -> None:
    """Failures racing from one address for one account (and a login from elsewhere meanwhile) are counted
    one by one: the lock comes exactly once, nothing deadlocks, the owner's login goes through."""
    login = create_login(app, "user")
    attempts = app.settings.security.lockout_threshold + 3
    barrier = threading.Barrier(attempts + 1)

    def attempt(password: str, ip: str) -> str:
        barrier.wait()
        try:
            with app.transaction() as svc:
                svc.auth.login(login.username, password, ip)
        except Unauthenticated:
            return "refused"
        return "in"

    with ThreadPoolExecutor(attempts + 1) as pool:
        results = list(pool.map(attempt, ["wrong"] * attempts + [login.password],
                                [ATTACKER] * attempts + [SCANNER_HOST]))
    assert results == ["refused"] * attempts + ["in"]
    assert [(e.ip, e.details["scope"]) for e in _audit(app, "auth.lockout")] == [(ATTACKER, "address")]
    assert len([e for e in _audit(app, "auth.login") if e.outcome == "failure"]) == attempts

"""Cached credentials never outlive a change: each App here stands for another server process.

`seen` is a second App on the same database with its own credential cache, warmed by a request
before the change; the change is made through the first App, and the very next request to `seen`
must reflect it (revocation, disabling, lockout, IP allow-list, role and group changes, logout).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from certvault.auth.rbac import Actor
from certvault.auth.service import AuthService
from certvault.container import App, build_app
from certvault.db.base import utcnow
from certvault.errors import Forbidden, Unauthenticated
from tests.conftest import Login, create_login

ADMIN = Actor.system("cache-test")


@pytest.fixture
def seen(app: App) -> Iterator[App]:
    other = build_app(app.settings, run_migrations=False)
    yield other
    other.close()


def _token_actor(application: App, login: Login, ip: str | None = "10.0.0.1") -> Actor:
    with application.transaction() as svc:
        return svc.auth.authenticate_token(login.token, ip)


def _warm(seen: App, login: Login) -> Actor:
    first = _token_actor(seen, login)
    assert _token_actor(seen, login) == first  # served again, now from the cache
    return first


def test_revoking_a_token_takes_effect_in_another_process_at_once(app: App, seen: App) -> None:
    login = create_login(app, "user")
    actor = _warm(seen, login)
    with app.transaction() as svc:
        token = svc.auth.list_tokens(actor)[0]
        svc.auth.revoke_token(ADMIN, token.id)
    with pytest.raises(Unauthenticated, match="invalid, expired or revoked"):
        _token_actor(seen, login)


def test_disabling_an_account_takes_effect_at_once_and_a_lockout_leaves_its_tokens_alone(app: App,
                                                                                          seen: App) -> None:
    disabled, locked = create_login(app, "user"), create_login(app, "user")
    _warm(seen, disabled)
    _warm(seen, locked)
    with app.transaction() as svc:
        svc.auth.update_user(ADMIN, disabled.username, is_active=False)
    sec = app.settings.security
    for n in range(sec.lockout_threshold * sec.lockout_addresses):  # enough addresses to lock the account
        with pytest.raises(Unauthenticated), app.transaction() as svc:
            svc.auth.login(locked.username, "wrong-password", f"10.0.9.{n // sec.lockout_threshold}")
    with app.transaction() as svc:
        assert svc.auth.get_user(ADMIN, locked.username).locked_until is not None
    with pytest.raises(Unauthenticated, match="account is disabled"):
        _token_actor(seen, disabled)
    assert _token_actor(seen, locked).name == locked.username  # a lockout stops logins, not issued tokens


def test_ip_allow_list_changes_take_effect_at_once_and_refusals_are_audited(app: App, seen: App) -> None:
    login = create_login(app, "user")
    _warm(seen, login)
    with app.transaction() as svc:
        svc.auth.update_user(ADMIN, login.username, allowed_networks=["192.0.2.0/24"])
    with pytest.raises(Forbidden, match="not allowed from 10.0.0.1"):
        _token_actor(seen, login)
    assert _token_actor(seen, login, "192.0.2.7").name == login.username
    with app.transaction() as svc:
        from certvault.audit.service import AuditQuery

        denied, _ = svc.audit.search(ADMIN, AuditQuery(action="auth.ip_denied", actor=login.username))
    assert [(e.ip, e.outcome) for e in denied] == [("10.0.0.1", "denied")]


def test_role_and_group_changes_reach_the_next_request(app: App, seen: App) -> None:
    login = create_login(app, "user")
    assert _warm(seen, login).group_ids == frozenset()
    with app.transaction() as svc:
        group = svc.auth.create_group(ADMIN, "cache-testers")
        svc.auth.add_member(ADMIN, group.id, login.username)
        svc.auth.update_user(ADMIN, login.username, role="operator")
    actor = _token_actor(seen, login)
    assert actor.group_ids == frozenset({group.id}) and actor.role.value == "operator"
    with app.transaction() as svc:
        svc.auth.remove_member(ADMIN, group.id, login.username)
    assert _token_actor(seen, login).group_ids == frozenset()


def test_expiry_is_checked_against_the_clock_not_the_cache(app: App, seen: App) -> None:
    login = create_login(app, "user")
    with app.transaction() as svc:
        plaintext, _token = svc.auth.create_token(ADMIN, login.username, "short", days=1)
    with seen.transaction() as svc:
        assert svc.auth.authenticate_token(plaintext, None).name == login.username
    later = utcnow() + timedelta(days=1, minutes=1)
    with seen.transaction() as svc:
        tomorrow = AuthService(svc.session, svc.audit, svc.sealer, seen.settings.security, now=lambda: later,
                               credentials=seen.credentials)
        with pytest.raises(Unauthenticated, match="invalid, expired or revoked"):
            tomorrow.authenticate_token(plaintext, None)


def test_logging_out_ends_the_session_in_every_process(app: App, seen: App) -> None:
    login = create_login(app, "user")
    with app.transaction() as svc:
        actor = svc.auth.login(login.username, login.password, "10.0.0.1")
        cookie, _web = svc.auth.create_session(actor)
    with seen.transaction() as svc:
        assert svc.auth.authenticate_session(cookie, "10.0.0.1")[0].name == login.username
    with app.transaction() as svc:
        svc.auth.end_session(cookie)
    with pytest.raises(Unauthenticated, match="log in again"), seen.transaction() as svc:
        svc.auth.authenticate_session(cookie, "10.0.0.1")


def test_a_token_use_is_recorded_at_most_once_a_minute(app: App, seen: App) -> None:
    login = create_login(app, "user")
    actor = _token_actor(seen, login)
    with app.transaction() as svc:
        first = svc.auth.list_tokens(actor)[0].last_used_at
    _token_actor(seen, login)
    with app.transaction() as svc:
        again = svc.auth.list_tokens(actor)[0].last_used_at
    assert first is not None and again == first

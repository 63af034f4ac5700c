from __future__ import annotations

import time

import pyotp
import pytest

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.errors import Conflict, Forbidden, InvalidInput, Unauthenticated
from tests.conftest import create_login


def test_password_login_succeeds_and_is_audited(app: App) -> None:
    login = create_login(app, "operator")
    with app.transaction() as svc:
        actor = svc.auth.login(login.username, login.password, "127.0.0.1")
    assert actor.name == login.username and actor.role.value == "operator"
    with app.transaction() as svc:
        events, _ = svc.audit.search(Actor.system(), _query("auth.login"))
    assert [(e.actor_name, e.outcome) for e in events] == [(login.username, "success")]


def test_lockout_after_repeated_failures_is_recorded(app: App) -> None:
    login = create_login(app, "user")
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            with app.transaction() as svc:
                svc.auth.login(login.username, "wrong-password", "127.0.0.1")
    # Even the right password is refused while locked.
    with pytest.raises(Unauthenticated):
        with app.transaction() as svc:
            svc.auth.login(login.username, login.password, "127.0.0.1")
    with app.transaction() as svc:
        lockouts, _ = svc.audit.search(Actor.system(), _query("auth.lockout"))
        failures, _ = svc.audit.search(Actor.system(), _query("auth.login", outcome="failure"))
        assert len(lockouts) == 1 and lockouts[0].actor_name == login.username
        assert len(failures) == 6
        svc.auth.unlock(Actor.system(), login.username)
    with app.transaction() as svc:
        svc.auth.login(login.username, login.password, "127.0.0.1")


def test_ip_allowlist_is_enforced_on_login_and_tokens(app: App) -> None:
    login = create_login(app, "user", allowed_networks=["10.1.0.0/16"])
    with pytest.raises(Unauthenticated, match="^invalid username or password$"):  # like any failed login
        with app.transaction() as svc:
            svc.auth.login(login.username, login.password, "192.0.2.9")
    with app.transaction() as svc:
        assert svc.auth.login(login.username, login.password, "10.1.2.3").name == login.username
        assert svc.auth.authenticate_token(login.token, "10.1.200.1").name == login.username
    with pytest.raises(Forbidden):
        with app.transaction() as svc:
            svc.auth.authenticate_token(login.token, "127.0.0.1")
    with app.transaction() as svc:
        denied, _ = svc.audit.search(Actor.system(), _query("auth.", outcome="denied"))
    assert {e.action for e in denied} == {"auth.login", "auth.ip_denied"}
    assert next(e for e in denied if e.action == "auth.login").details == {"reason": "address not allowed"}


def test_totp_is_required_once_enabled(app: App) -> None:
    login = create_login(app, "user")
    with app.transaction() as svc:
        actor = svc.auth.login(login.username, login.password, None)
        secret, uri = svc.auth.totp_begin(actor, login.password)
        assert uri.startswith("otpauth://totp/")
        svc.auth.totp_confirm(actor, pyotp.TOTP(secret).now())
    with pytest.raises(Unauthenticated, match="TOTP code is required"):
        with app.transaction() as svc:
            svc.auth.login(login.username, login.password, None)
    with app.transaction() as svc:  # the confirming code is used up: the next time step's code (clock skew allowed)
        assert svc.auth.login(login.username, login.password, None, pyotp.TOTP(secret).at(time.time() + 30))


def test_revoked_and_expired_tokens_are_refused(app: App) -> None:
    login = create_login(app, "user")
    with app.transaction() as svc:
        actor = svc.auth.authenticate_token(login.token, None)
        tokens = svc.auth.list_tokens(actor)
        svc.auth.revoke_token(actor, tokens[0].id)
    with pytest.raises(Unauthenticated):
        with app.transaction() as svc:
            svc.auth.authenticate_token(login.token, None)


def _query(action: str, outcome: str | None = None):  # type: ignore[no-untyped-def]
    from certvault.audit.service import AuditQuery

    return AuditQuery(action=action, outcome=outcome, limit=100)


@pytest.mark.parametrize("name", ["Ünïcode", "two words", "", "x" * 151, "tab\tname"])
def test_a_username_outside_the_allowed_characters_is_refused_and_nothing_is_stored(app: App, name: str) -> None:
    with app.transaction() as svc:
        before = len(svc.auth.list_users(Actor.system()))
    with pytest.raises(InvalidInput, match="ASCII letters, digits"):
        with app.transaction() as svc:
            svc.auth.create_user(Actor.system(), name, "user", password="a-long-enough-password-1")
    with app.transaction() as svc:
        assert len(svc.auth.list_users(Actor.system())) == before


def test_usernames_differing_only_in_case_are_one_user(app: App) -> None:
    with app.transaction() as svc:
        svc.auth.create_user(Actor.system(), "Casey.Ops", "user", password="a-long-enough-password-1")
    with pytest.raises(Conflict, match="already exists"):
        with app.transaction() as svc:
            svc.auth.create_user(Actor.system(), "casey.ops", "user", password="a-long-enough-password-1")

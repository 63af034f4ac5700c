"""Bump the auth version in the same transaction as any change that could invalidate a cached credential.

Installed on the session factory, so it sees every change made through the ORM anywhere in
certvault (AuthService, vault service accounts, tests) rather than relying on each call site:
a changed or deleted user, group, membership, token or session bumps `auth_state.version`.
New rows do not (nothing cached refers to them), nor do the bookkeeping columns below, which
change on every login or token use and decide nothing. Raw SQL that bypasses the ORM must bump
it itself (`bump(session)`).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, event, inspect, update
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from certvault.auth.models import ApiToken, AuthState, Group, GroupMember, User, WebSession

WATCHED: tuple[type[Any], ...] = (User, Group, GroupMember, ApiToken, WebSession)
# Columns that change as accounts are used and grant or refuse nothing.
BOOKKEEPING: dict[type[Any], frozenset[str]] = {
    User: frozenset({"last_login_at", "failed_logins", "updated_at"}),
    ApiToken: frozenset({"last_used_at"}),
}
_state = cast(Table, AuthState.__table__)
_BUMP = update(_state).where(_state.c.id == 1).values(version=_state.c.version + 1)
_BUMPED = "certvault_auth_bumped"


def install(sessions: sessionmaker[Session]) -> None:
    event.listen(sessions, "before_flush", _before_flush)
    event.listen(sessions, "do_orm_execute", _before_bulk_change)
    # Any transaction end, savepoints included: a rolled-back savepoint may have taken the bump with it.
    event.listen(sessions, "after_transaction_end", _forget)


def bump(session: Session) -> None:
    """Invalidate every process's cached credentials when this transaction commits (once per transaction)."""
    if session.info.get(_BUMPED):
        return
    session.connection().execute(_BUMP)
    session.info[_BUMPED] = True


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(_BUMPED):
        return
    if any(isinstance(obj, WATCHED) for obj in session.deleted) or any(
            isinstance(obj, GroupMember) for obj in session.new) or any(
            isinstance(obj, WATCHED) and _meaningfully_changed(obj) for obj in session.dirty):
        bump(session)


def _meaningfully_changed(obj: Any) -> bool:
    ignored = BOOKKEEPING.get(type(obj), frozenset())
    state = inspect(obj)
    return any(attr.key not in ignored and attr.history.has_changes() for attr in state.attrs)


def _before_bulk_change(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and not state.session.info.get(_BUMPED):
        if any(mapper.class_ in WATCHED for mapper in state.all_mappers):
            bump(state.session)


def _forget(session: Session, _transaction: Any) -> None:
    session.info.pop(_BUMPED, None)

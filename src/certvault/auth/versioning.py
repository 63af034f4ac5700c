"""Bump the auth version in the same transaction as any change that could invalidate a cached decision.

Installed on the session factory, so it sees every change made through the ORM anywhere in certvault
(AuthService, the vault, tests) rather than relying on each call site. What is cached: credentials
(auth/credentials.py) and vault access levels (vault/access.py), so a changed or deleted user, group,
membership, token or session bumps `auth_state.version`, as does a change to what a vault level is resolved
from (registered there with `watch`). New rows do not (nothing cached refers to them) unless a watch says so
(a new membership or grant changes existing decisions), nor do the bookkeeping columns, which change on
every login or token use and decide nothing. Raw SQL that bypasses the ORM must bump it itself (`bump(session)`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import column, event, inspect, select, table, update
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker


@dataclass(frozen=True)
class Watch:
    """Which changes to a model's rows bump the version."""

    columns: frozenset[str] | None = None  # only these; None: any column but `ignored`
    ignored: frozenset[str] = frozenset()  # bookkeeping: changes as accounts are used, grants or refuses nothing
    new_rows: bool = False  # whether a new row changes a decision already made

    def changed(self, obj: Any) -> bool:
        state = inspect(obj)
        return any(attr.history.has_changes() for attr in state.attrs
                   if (attr.key in self.columns if self.columns is not None else attr.key not in self.ignored))


# By table name, not model class: a command that never touches accounts does not import auth/models.py.
WATCHED: dict[str, Watch] = {
    "users": Watch(ignored=frozenset({"last_login_at", "failed_logins", "updated_at", "totp_last_step",
                                      "totp_pending"})),
    "groups": Watch(),
    "group_members": Watch(new_rows=True),
    "api_tokens": Watch(ignored=frozenset({"last_used_at"})),
    "web_sessions": Watch(),
}


def watch(model: type[Any], how: Watch) -> None:
    """Bump the version on these changes to `model`'s rows (for another package's cached decisions)."""
    WATCHED[model.__tablename__] = how


def _watch_of(obj: Any) -> Watch | None:
    return WATCHED.get(getattr(type(obj), "__tablename__", ""))


_state = table("auth_state", column("id"), column("version"))  # the table, without importing auth/models.py
_BUMP = update(_state).where(_state.c.id == 1).values(version=_state.c.version + 1)
# The version as a column another statement can carry (read in that statement's snapshot).
AUTH_VERSION = select(_state.c.version).where(_state.c.id == 1).scalar_subquery().label("auth_version")
READ_VERSION = object()  # `token(version=...)` default: read the version here
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
    if any(_watch_of(obj) is not None for obj in session.deleted) or any(
            (how := _watch_of(obj)) is not None and how.new_rows for obj in session.new) or any(
            (how := _watch_of(obj)) is not None and how.changed(obj) for obj in session.dirty):
        bump(session)


def _before_bulk_change(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and not state.session.info.get(_BUMPED):
        if any(getattr(mapper.class_, "__tablename__", "") in WATCHED for mapper in state.all_mappers):
            bump(state.session)


def _forget(session: Session, _transaction: Any) -> None:
    session.info.pop(_BUMPED, None)


class VersionedCache:
    """Values by key, each with the auth version it was computed at (hits only at that version); least recently
    used go first. Processes share nothing: each re-reads the version, so a change made anywhere takes effect
    on the next request everywhere."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[Hashable, tuple[int, Any]] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: int) -> Any | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is None or hit[0] != version:
                return None
            self._entries.move_to_end(key)
            return hit[1]

    def put(self, key: Hashable, version: int, value: Any) -> None:
        with self._lock:
            self._entries[key] = (version, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

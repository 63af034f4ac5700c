"""What differs between SQLite and PostgreSQL, in one place: domain modules ask, they do not branch."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Select
from sqlalchemy.orm import Session

S = TypeVar("S", bound=Select[Any])


def name_of(bind: Session | Connection | Engine) -> str:
    if isinstance(bind, Session):
        return bind.get_bind().dialect.name
    return bind.dialect.name


def is_postgres(bind: Session | Connection | Engine) -> bool:
    return name_of(bind) == "postgresql"


def is_sqlite(bind: Session | Connection | Engine) -> bool:
    return name_of(bind) == "sqlite"


def upsert(session: Session, table: Any) -> Any:
    """INSERT ... that takes `.on_conflict_do_update/_nothing` (both dialects have it, each its own class)."""
    # Imported here: the PostgreSQL dialect package alone costs ~25 ms of a SQLite command's start-up.
    if is_postgres(session):
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def skip_locked(session: Session, stmt: S) -> S:
    """Rows another worker holds are skipped on PostgreSQL; SQLite has one writer at a time anyway."""
    return stmt.with_for_update(skip_locked=True) if is_postgres(session) else stmt


def for_update(session: Session) -> bool:
    """Whether to lock the rows a read will change (`with_for_update=`); SQLite's writer lock already does."""
    return is_postgres(session)

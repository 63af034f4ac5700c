"""Cross-process mutual exclusion inside a transaction.

PostgreSQL: a transaction-scoped advisory lock. SQLite: nothing to do, because every transaction
already begins with BEGIN IMMEDIATE and so holds the database write lock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, text
from sqlalchemy.orm import Session


def advisory_lock(bind: Session | Connection, name: str) -> None:
    dialect = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    if dialect == "postgresql":
        bind.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})


def skip_locked(session: Session, stmt: Select[Any]) -> Select[Any]:
    """Lock the selected rows, skipping rows another transaction holds (PostgreSQL `FOR UPDATE SKIP LOCKED`).
    SQLite needs nothing: the transaction already holds the database write lock."""
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt

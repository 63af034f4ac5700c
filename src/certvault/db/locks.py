"""Cross-process mutual exclusion inside a transaction.

PostgreSQL: a transaction-scoped advisory lock. SQLite: nothing to do, because every transaction
already begins with BEGIN IMMEDIATE and so holds the database write lock.
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session


def advisory_lock(bind: Session | Connection, name: str) -> None:
    dialect = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    if dialect == "postgresql":
        bind.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})

"""Session factory and the unit-of-work scope. The caller owns the transaction."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

# In `session.info` of a session on the read engine (see read_sessions): it must not write.
READ_ONLY = "certvault.read_only"


class NeedsTransaction(Exception):  # noqa: N818 - a signal, not an error: the caller redoes the work in a transaction
    """Raised when work started on a read-only session would write: redo it in a regular transaction."""


def build_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def end_transaction(session: Session, exc: BaseException | None) -> None:
    """Commit on success, roll back on an exception unless it asks to keep audit rows."""
    if exc is None or getattr(exc, "keep_changes", False):
        try:
            session.commit()
        except BaseException:
            session.rollback()
            raise
    else:
        session.rollback()


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on an exception (unless it keeps audit rows)."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException as exc:
        if getattr(exc, "keep_changes", False):
            session.commit()
        else:
            session.rollback()
        raise
    finally:
        session.close()


_read_factories: weakref.WeakKeyDictionary[Engine, sessionmaker[Session]] = weakref.WeakKeyDictionary()


def read_sessions(read_engine: Engine) -> sessionmaker[Session]:
    """Sessions on the read engine (build_read_engine: autocommit, no write lock, on SQLite `query_only`).

    For work that only reads and audits (the audit rows go through audit/group.py): a session that
    would flush a change raises NeedsTransaction before any SQL, so the caller redoes the work in a
    regular transaction instead of writing piecemeal. Services that may write check `READ_ONLY`.
    """
    factory = _read_factories.get(read_engine)
    if factory is None:
        factory = sessionmaker(bind=read_engine, expire_on_commit=False, autoflush=True, info={READ_ONLY: True})
        event.listen(factory, "before_flush", _refuse_writes)
        _read_factories[read_engine] = factory
    return factory


def _refuse_writes(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise NeedsTransaction("a read-only session was about to write")

"""Session factory and the unit-of-work scope. The caller owns the transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker


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

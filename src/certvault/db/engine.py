"""Engine construction: SQLite in WAL mode with sane pragmas, or PostgreSQL by URL."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

BUSY_TIMEOUT_SECONDS = 30.0


def build_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo, pool_size)
    if parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, echo=echo)


# One writer lock per database file, shared by every engine of this process.
_WRITER_LOCKS: dict[str, threading.Lock] = {}
_WRITER_LOCKS_GUARD = threading.Lock()


def _writer_lock(database: str) -> threading.Lock:
    with _WRITER_LOCKS_GUARD:
        return _WRITER_LOCKS.setdefault(database, threading.Lock())


class _WriterLockedConnection(sqlite3.Connection):
    """Holds the process-wide writer lock from BEGIN IMMEDIATE until COMMIT or ROLLBACK.

    SQLite's own busy handler makes a waiting writer sleep in growing steps (1, 2, 5 ... 100 ms);
    queueing writers of this process on a Python lock instead wakes the next one the moment the
    previous one commits. Other processes still meet SQLite's busy handler.
    """

    writer_lock: threading.Lock
    holds_lock = False

    def take_writer_lock(self) -> None:
        if not self.writer_lock.acquire(timeout=BUSY_TIMEOUT_SECONDS):
            raise sqlite3.OperationalError("database is locked (waited for another transaction of this process)")
        self.holds_lock = True

    def release_writer_lock(self) -> None:
        if self.holds_lock:
            self.holds_lock = False
            self.writer_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.release_writer_lock()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.release_writer_lock()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.release_writer_lock()


def _sqlite_engine(url: str, echo: bool, pool_size: int) -> Engine:
    database = make_url(url).database or ""
    lock = _writer_lock(database)
    factory = type("WriterLockedConnection", (_WriterLockedConnection,), {"writer_lock": lock})
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS, "isolation_level": None,
                      "factory": factory},
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so a transaction that reads then writes
        # never fails with SQLITE_BUSY_SNAPSHOT halfway; writers of this process queue first.
        dbapi_conn = conn.connection.dbapi_connection
        dbapi_conn.take_writer_lock()
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            dbapi_conn.release_writer_lock()
            raise

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"

"""Engine construction: SQLite in WAL mode with sane pragmas, or PostgreSQL by URL."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import QueuePool

BUSY_TIMEOUT_SECONDS = 30.0


def build_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo, pool_size)
    if parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, echo=echo)
    _ping_after_idle(engine)
    return engine


PING_AFTER_IDLE_SECONDS = 5.0


def _ping_after_idle(engine: Engine) -> None:
    """Check a pooled connection is alive before use, when it sat idle long enough to have gone stale.

    pool_pre_ping checks on every checkout: a round trip per transaction (two per API request),
    for connections handed back a millisecond ago. A server restart or an idle-connection timeout
    happens while connections sit in the pool, so only those that sat there are pinged; a dead one
    is replaced before anyone sees it.
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            cursor = dbapi_conn.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_conn.rollback()  # back to idle, so autocommit can still be switched on
        except Exception as exc:
            raise DisconnectionError("pooled connection is gone; reconnecting") from exc


class FifoLock:
    """A lock granted in arrival order: release hands it straight to the oldest waiter.

    threading.Lock lets a running thread barge past sleeping waiters; with dozens of requests
    queued on SQLite's single writer, some then waited hundreds of milliseconds while others
    went straight through. Here each waits its turn, which bounds the tail.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held = False
        self._waiters: deque[threading.Lock] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._guard:
            if not self._held:
                self._held = True
                return True
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        if turn.acquire(timeout=timeout):
            return True  # handed over by release()
        with self._guard:
            try:
                self._waiters.remove(turn)
            except ValueError:
                return True  # handed over between the timeout and now: it is ours
        return False

    def release(self) -> None:
        with self._guard:
            if self._waiters:
                self._waiters.popleft().release()  # still held: ownership passes to the next in line
            else:
                self._held = False


# One writer lock per database file, shared by every engine of this process.
_WRITER_LOCKS: dict[str, FifoLock] = {}
_WRITER_LOCKS_GUARD = threading.Lock()


def _writer_lock(database: str) -> FifoLock:
    with _WRITER_LOCKS_GUARD:
        return _WRITER_LOCKS.setdefault(database, FifoLock())


class _WriterLockedConnection(sqlite3.Connection):
    """Holds the process-wide writer lock from BEGIN IMMEDIATE until COMMIT or ROLLBACK.

    SQLite's own busy handler makes a waiting writer sleep in growing steps (1, 2, 5 ... 100 ms);
    queueing writers of this process on a Python lock instead wakes the next one the moment the
    previous one commits. Other processes still meet SQLite's busy handler.
    """

    writer_lock: FifoLock
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


def build_read_engine(engine: Engine, *, pool_size: int = 10) -> Engine:
    """Connections for short lookups outside any write transaction (authenticating a request).

    Each statement commits on its own (autocommit): no BEGIN, no COMMIT, and on SQLite no write
    lock, so a lookup never queues behind a writer (WAL readers see the last committed state).
    SQLite's are opened with `query_only`, so they cannot write even by mistake.
    """
    if not is_sqlite(engine):
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    database = engine.url.database or ""
    if database in ("", ":memory:"):  # a private in-memory database: another connection would see another one
        return engine
    reader = create_engine(
        engine.url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS, "isolation_level": None},
        poolclass=QueuePool, pool_size=pool_size, max_overflow=pool_size * 2,
    )

    @event.listens_for(reader, "connect")
    def _read_only(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA query_only=ON")
        cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
        cur.close()

    return reader


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"

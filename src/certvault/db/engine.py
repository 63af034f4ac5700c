"""Engine construction: SQLite in WAL mode with sane pragmas, or PostgreSQL by URL."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import QueuePool

from certvault.db.dialect import is_sqlite

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


class WriterLock:
    """The right to write one SQLite database: first among this process's threads, then among processes.

    Threads queue on a FifoLock; the one at the head then takes an exclusive flock on a file next
    to the database, which is what serialises `certvault serve --workers N`, the job worker and the
    CLI against each other. Waiting on it polls every 50 us to 1 ms: SQLite's own busy handler
    sleeps 1, 2, 5 ... 100 ms between tries, which made several processes slower than one.
    """

    def __init__(self, database: str) -> None:
        self._threads = FifoLock()
        self._path = f"{database}-writer" if database not in ("", ":memory:") else None
        self._fd: int | None = None
        self._pid = 0

    def acquire(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if not self._threads.acquire(timeout):
            return False
        try:
            if self._path is None or self._take_file(deadline):
                return True
        except BaseException:
            self._threads.release()
            raise
        self._threads.release()
        return False

    def release(self) -> None:
        try:
            if self._path is not None and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _take_file(self, deadline: float) -> bool:
        if self._fd is None or self._pid != os.getpid():  # a forked child needs its own open file
            assert self._path is not None
            if self._fd is not None:
                os.close(self._fd)  # the parent's, inherited: a lock taken through it would be shared
            self._fd, self._pid = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600), os.getpid()
        pause = 0.00005
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(pause)
                pause = min(pause * 2, 0.001)


# One writer lock per database file, shared by every engine of this process.
_WRITER_LOCKS: dict[str, WriterLock] = {}
_WRITER_LOCKS_GUARD = threading.Lock()


def _writer_lock(database: str) -> WriterLock:
    with _WRITER_LOCKS_GUARD:
        return _WRITER_LOCKS.setdefault(database, WriterLock(database))


class WriterBusy(sqlite3.OperationalError):
    """The writer lock stayed taken for the whole wait (the execution option WRITER_LOCK_WAIT, else 30 s)."""


# Execution option: seconds a transaction's BEGIN waits for the writer lock (a caller that must not wait long).
WRITER_LOCK_WAIT = "certvault_writer_lock_wait"


class _WriterLockedConnection(sqlite3.Connection):
    """Holds the database's writer lock from BEGIN IMMEDIATE until COMMIT or ROLLBACK.

    SQLite's own busy handler makes a waiting writer sleep in growing steps (1, 2, 5 ... 100 ms);
    queueing writers on WriterLock instead lets the next one go the moment the previous one commits.
    """

    writer_lock: WriterLock
    holds_lock = False

    def take_writer_lock(self, timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        if not self.writer_lock.acquire(timeout=timeout):
            raise WriterBusy("database is locked (waited for another certvault transaction)")
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


def _private_files(database: str) -> None:
    """Make the database file (created empty if missing), its -wal and -shm files and the writer lock readable
    by the owner only. SQLite creates -wal and -shm with the database file's mode, so from then on they are too."""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    with suppress(FileExistsError, FileNotFoundError):  # no directory: SQLite says so in its own words
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    for path in (database, f"{database}-wal", f"{database}-shm", f"{database}-writer"):
        with suppress(FileNotFoundError, PermissionError):  # PermissionError: someone else's file, left as it is
            os.chmod(path, 0o600)


def _sqlite_engine(url: str, echo: bool, pool_size: int) -> Engine:
    database = make_url(url).database or ""
    _private_files(database)
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
        dbapi_conn.take_writer_lock(conn.get_execution_options().get(WRITER_LOCK_WAIT, BUSY_TIMEOUT_SECONDS))
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


@contextmanager
def checkpoint_elsewhere(conn: Connection) -> Iterator[None]:
    """SQLite: commits on `conn` inside the block leave the WAL checkpoint (copying pages into the database and
    an fsync: milliseconds) to `checkpoint`, for a caller on the event loop. Other databases: nothing."""
    if conn.dialect.name != "sqlite":
        yield
        return
    driver = conn.connection.driver_connection  # not through SQLAlchemy: that would begin a transaction
    driver.execute("PRAGMA wal_autocheckpoint=0")  # type: ignore[union-attr]  # per connection, no I/O
    try:
        yield
    finally:
        driver.execute("PRAGMA wal_autocheckpoint=1000")  # type: ignore[union-attr]


def checkpoint(engine: Engine) -> None:
    """A PASSIVE checkpoint: copies what no reader still needs, never blocks readers or writers. Blocking I/O:
    call it from a thread."""
    raw = engine.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
    finally:
        raw.close()


def is_lock_busy(exc: BaseException) -> bool:
    """A lock another transaction holds: SQLite's writer lock past the wait, PostgreSQL's lock_not_available
    (NOWAIT or lock_timeout)."""
    if isinstance(exc, WriterBusy):
        return True
    return "55P03" in (getattr(exc, "sqlstate", None), getattr(getattr(exc, "orig", None), "sqlstate", None))



"""Cross-process wake-up: a worker hears of jobs enqueued by other processes (API servers, CLI,
other workers) within milliseconds instead of at its next poll.

- PostgreSQL: `enqueue` sends NOTIFY in the enqueuing transaction (delivered only if it commits);
  each worker LISTENs on its own connection.
- SQLite (one host, one file): each worker watches `PRAGMA data_version` (it changes when another
  connection commits) every few milliseconds on a read-only connection, and on a change reads the
  earliest queued `run_at`: due now wakes the worker, later becomes its next wake-up time.

Both are hints: the claim query stays the only truth, and `poll_interval` still bounds the delay.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from certvault.db.dialect import is_postgres, is_sqlite

log = logging.getLogger("certvault.jobs")
CHANNEL = "certvault_jobs"
Wake = Callable[[datetime | None], None]  # called with the earliest queued run_at (None: look now)


def notify(session: Session) -> None:
    """Tell other processes' workers that a job is due (PostgreSQL; once per transaction)."""
    if not is_postgres(session):
        return
    transaction = session.get_transaction()
    if session.info.get("jobs_notify_tx") is transaction:
        return
    session.info["jobs_notify_tx"] = transaction
    session.execute(text(f"NOTIFY {CHANNEL}"))


def start_watcher(engine: Engine, wake: Wake, stop: threading.Event, interval: float) -> threading.Thread | None:
    """A daemon thread calling `wake` when another process may have enqueued a job."""
    if is_postgres(engine):
        target: Callable[[], None] = lambda: _listen_postgres(engine, wake, stop)  # noqa: E731
    elif is_sqlite(engine) and engine.url.database not in (None, "", ":memory:"):
        target = lambda: _watch_sqlite(str(engine.url.database), wake, stop, interval)  # noqa: E731
    else:
        return None
    thread = threading.Thread(target=target, name="jobs-wakeup", daemon=True)
    thread.start()
    return thread


def _listen_postgres(engine: Engine, wake: Wake, stop: threading.Event) -> None:
    import psycopg

    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    while not stop.is_set():
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                wake(None)  # anything enqueued while we were not listening
                while not stop.is_set():
                    for _ in conn.notifies(timeout=1.0, stop_after=1):
                        wake(None)
        except Exception as exc:  # noqa: BLE001 - a lost connection: poll_interval covers us until we are back
            log.warning("job wake-up listener: %s; reconnecting", exc)
            stop.wait(2.0)


def _watch_sqlite(path: str, wake: Wake, stop: threading.Event, interval: float) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False,
                               timeout=1.0)
    except sqlite3.Error as exc:
        log.warning("job wake-up watcher cannot open %s: %s", path, exc)
        return
    try:
        seen = _data_version(conn)
        while not stop.wait(interval):
            version = _data_version(conn)
            if version == seen:
                continue
            seen = version
            earliest = _earliest_queued(conn)
            if earliest is not None:
                wake(earliest)
    except sqlite3.Error as exc:
        log.warning("job wake-up watcher stopped: %s", exc)
    finally:
        conn.close()


def _data_version(conn: sqlite3.Connection) -> Any:
    return conn.execute("PRAGMA data_version").fetchone()[0]


def _earliest_queued(conn: sqlite3.Connection) -> datetime | None:
    row = conn.execute("SELECT min(run_at) FROM jobs WHERE status = 'queued'").fetchone()
    if not row or row[0] is None:
        return None
    return datetime.fromisoformat(str(row[0])).replace(tzinfo=UTC)

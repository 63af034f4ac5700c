"""Group commit: the audit rows of concurrent requests chained and committed in one transaction.

A request that read a secret outside any write transaction (see api/fast.py) hands its audit rows to its
process's `GroupCommit` and waits until they are durable in the chain; only then may it answer. The rows of
every request waiting at that moment are appended with `append_rows` (the same code as a single
`AuditLog.record`: head locked, rows chained, head moved) in one transaction: one writer-lock hold, one commit
and on PostgreSQL one head-row lock for N reads. If that transaction fails, every request of the group gets
`AuditCommitFailed` and must not answer with what it read. Across processes the chain's own lock (SQLite's
writer lock, PostgreSQL's head row) serialises as before.

Requests wait on the event loop, holding no thread: the first request of a loop iteration schedules a flush
for the next one (passes.py), so every request the loop served in between joins the group. The flush writes
on the loop itself when the chain's lock is free (SQLite's writer lock or PostgreSQL's head row within WRITER_WAIT):
the write takes well under a millisecond, and a thread would fight the loop for the GIL at each of the
transaction's statements, which made groups of one and a tail of tens of milliseconds. When another
transaction holds the lock, the group waits for it in a thread while the loop goes on serving. SQLite's WAL
checkpoint (an fsync, milliseconds) is left out of the loop's commits and run in a thread when due.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from typing import Any

from sqlalchemy import Engine

from certvault.audit.service import append_rows
from certvault.db.dialect import is_postgres, is_sqlite
from certvault.db.engine import WRITER_LOCK_WAIT, WriterBusy, checkpoint, checkpoint_elsewhere, is_lock_busy
from certvault.errors import CertvaultError
from certvault.passes import PassBatch, Waiting, settle

Rows = list[dict[str, Any]]
WRITER_WAIT = 0.002  # seconds the event loop may wait for the chain's lock before handing its group to a thread
# Rows the loop commits between two SQLite checkpoints it runs in a thread (~1 KB of WAL each; SQLite's own
# automatic checkpoint comes every 1,000 pages, 4 MB).
CHECKPOINT_EVERY_ROWS = 4000


class AuditCommitFailed(CertvaultError):
    """The transaction that would have made a request's audit rows durable failed: nothing may be answered."""

    status_code = 503
    code = "audit_unavailable"


def _raise_if_failed(error: BaseException | None) -> None:
    if error is not None:
        raise AuditCommitFailed("the audit record could not be committed; nothing was returned") from error


class GroupCommit:
    def __init__(self, engine: Engine, key: bytes) -> None:
        # Weak: the registry below is keyed by the engine, and a value holding its key would never let go of it.
        self._engine_ref, self._key = weakref.ref(engine), key
        self._checkpointing = False
        self._uncheckpointed = 0  # rows the loop committed since its last checkpoint
        # Requests waiting for the next flush (passes.py: per event loop, one per process when serving).
        self._passes: PassBatch[None, Rows, BaseException | None] = PassBatch(self._flush)

    async def commit(self, rows: Rows) -> None:
        """Return once `rows` are committed in the chain; raise AuditCommitFailed if they could not be."""
        if rows:
            _raise_if_failed(await self._passes.join(None, rows))

    def _flush(self, loop: asyncio.AbstractEventLoop, _key: None, group: Waiting[Rows, BaseException | None]) -> None:
        rows = [row for entry_rows, _ in group for row in entry_rows]
        try:
            error = self._write(rows, lock_wait=WRITER_WAIT)
        except WriterBusy:
            handed = loop.run_in_executor(None, self._write, rows)
            handed.add_done_callback(lambda written: settle(group, lambda _rows: written.result()))
            return
        settle(group, lambda _rows: error)
        if is_sqlite(self._engine):
            self._uncheckpointed += len(rows)
            if not self._checkpointing and self._uncheckpointed >= CHECKPOINT_EVERY_ROWS:
                self._checkpointing, self._uncheckpointed = True, 0  # the loop's commits leave it to a thread
                loop.run_in_executor(None, checkpoint, self._engine).add_done_callback(self._checkpointed)

    def _checkpointed(self, _done: asyncio.Future[None]) -> None:
        self._checkpointing = False

    @property
    def _engine(self) -> Engine:
        engine = self._engine_ref()
        assert engine is not None, "the engine of a group commit in use was garbage-collected"
        return engine

    def _write(self, rows: Rows, lock_wait: float | None = None) -> BaseException | None:
        """Append `rows` in one transaction; the error that stopped it, if any (WriterBusy is raised)."""
        try:
            with self._engine.connect() as conn, checkpoint_elsewhere(conn):
                if lock_wait is not None:
                    conn = conn.execution_options(**{WRITER_LOCK_WAIT: lock_wait})
                with conn.begin():  # SQLite: BEGIN IMMEDIATE under the writer lock (db/engine.py)
                    if not is_postgres(conn):
                        append_rows(conn, self._key, rows, lock_wait=lock_wait)
                    else:  # two round trips: BEGIN + head lock, then the rows, the head's move and COMMIT
                        dbapi = conn.connection.dbapi_connection
                        with dbapi.pipeline():  # type: ignore[union-attr]
                            append_rows(conn, self._key, rows, lock_wait=lock_wait)
                            dbapi.commit()  # type: ignore[union-attr]
        except BaseException as exc:  # noqa: BLE001 - every request of the group learns it
            if lock_wait is not None and is_lock_busy(exc):
                raise WriterBusy("another transaction holds the audit chain") from exc
            return exc
        return None


_groups: weakref.WeakKeyDictionary[Engine, tuple[int, GroupCommit]] = weakref.WeakKeyDictionary()
_groups_guard = threading.Lock()


def group_commit(engine: Engine, key: bytes) -> GroupCommit:
    """This process's group commit for `engine` (a forked `serve --workers` child starts its own)."""
    found = _groups.get(engine)
    if found is None or found[0] != os.getpid():
        with _groups_guard:
            found = _groups.get(engine)
            if found is None or found[0] != os.getpid():
                found = _groups[engine] = (os.getpid(), GroupCommit(engine, key))
    return found[1]

"""Group commit: the audit rows of concurrent requests chained and committed in one transaction.

A request that read a secret outside any write transaction (see api/deps.py, `BearerFastRoute`) hands its
audit rows to `GroupCommit.commit` and waits there until they are durable in the chain; only then may it
answer. Whoever finds the commit free leads: it takes every row queued so far (its own and those of requests
that arrived while the previous group was being written), appends them with `append_rows` (the same code as a
single `AuditLog.record`: head locked, rows chained, head moved) in one transaction, so one writer-lock hold,
one commit and on PostgreSQL one head-row lock for N reads, and tells each request how its group fared. If
that transaction fails, every request of the group gets `AuditCommitFailed` and must not answer with what it
read. Across processes the chain's own lock (SQLite's writer lock, PostgreSQL's head row) serialises as before.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

from sqlalchemy import Engine

from certvault.audit.service import append_rows
from certvault.errors import CertvaultError


class AuditCommitFailed(CertvaultError):
    """The transaction that would have made a request's audit rows durable failed: nothing may be answered."""

    status_code = 503
    code = "audit_unavailable"


class _Entry:
    __slots__ = ("done", "error", "rows")

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.done = False
        self.error: BaseException | None = None


class GroupCommit:
    def __init__(self) -> None:
        self._queue_guard = threading.Lock()
        self._writing = threading.Lock()  # held by the leader while its group is written
        self._queue: list[_Entry] = []

    def commit(self, engine: Engine, key: bytes, rows: list[dict[str, Any]]) -> None:
        """Return once `rows` are committed in the chain; raise AuditCommitFailed if they could not be."""
        if not rows:
            return
        mine = _Entry(rows)
        with self._queue_guard:
            self._queue.append(mine)
        with self._writing:
            if not mine.done:  # not written by the previous leader: lead a group of everything queued
                with self._queue_guard:
                    group, self._queue = self._queue, []
                try:
                    _write(engine, key, [row for entry in group for row in entry.rows])
                except BaseException as exc:  # noqa: BLE001 - every request of the group learns it
                    for entry in group:
                        entry.error, entry.done = exc, True
                else:
                    for entry in group:
                        entry.done = True
        if mine.error is not None:
            raise AuditCommitFailed("the audit record could not be committed; nothing was returned") from mine.error


def _write(engine: Engine, key: bytes, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE under the writer lock (db/engine.py)
        append_rows(conn, key, rows)


_groups: weakref.WeakKeyDictionary[Engine, tuple[int, GroupCommit]] = weakref.WeakKeyDictionary()
_groups_guard = threading.Lock()


def commit_audit_rows(engine: Engine, key: bytes, rows: list[dict[str, Any]]) -> None:
    """Commit `rows` to the chain through this process's group commit for `engine` (see above)."""
    if not rows:
        return
    found = _groups.get(engine)
    if found is None or found[0] != os.getpid():  # a forked `serve --workers` child starts its own
        with _groups_guard:
            found = _groups.get(engine)
            if found is None or found[0] != os.getpid():
                found = _groups[engine] = (os.getpid(), GroupCommit())
    found[1].commit(engine, key, rows)

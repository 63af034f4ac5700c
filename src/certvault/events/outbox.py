"""Appending events: in the caller's transaction, with one delivery row per interested consumer.

`ctx.events.publish(...)` adds the event, its delivery rows and (once per transaction and consumer) a
job that reads them; all three exist if and only if the caller commits. Nothing is sent from here.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from certvault.db.base import utcnow
from certvault.events.catalogue import known, require_known
from certvault.events.consumers import interested
from certvault.events.models import DomainEvent, EventDelivery
from certvault.jobs import queue
from certvault.jobs.models import Job

CONSUME_JOB = "events.consume"
_WOKEN = "events.woken"  # session.info: (root transaction, {consumer: its wake-up job})


def _jsonable(payload: dict[str, Any] | None) -> dict[str, Any]:
    """UUIDs, datetimes and the like as text, so the payload reads back as it was written."""
    return json.loads(json.dumps(payload or {}, default=str)) if payload else {}


class EventOutbox:
    def __init__(self, session: Session) -> None:
        self._s = session

    def publish(self, type: str, *, title: str | None = None, body: str = "", severity: str = "info",
                subject: str | None = None, payload: dict[str, Any] | None = None) -> DomainEvent:
        """Append one event (a bulk operation appends one event for the whole operation, not one per item)."""
        require_known(type)
        event = DomainEvent(type=type, subject=subject, title=(title or known()[type])[:500], body=body,
                            severity=severity, payload=_jsonable(payload), occurred_at=utcnow())
        readers = interested(type)
        event.deliveries = [EventDelivery(consumer=name, available_at=event.occurred_at) for name in readers]
        self._s.add(event)
        for name in readers:
            self._wake(name)
        return event

    def _wake(self, consumer: str) -> None:
        """A consume job for this transaction's rows, enqueued with them, or the consumer's active one joined
        by dedup key (see events/delivery.py for why that job reads them)."""
        root = self._s.get_transaction()
        held = self._s.info.get(_WOKEN)
        if held is None or held[0] is not root:
            held = self._s.info[_WOKEN] = (root, {})
        woken: dict[str, Job | None] = held[1]
        job = woken.get(consumer)
        if job is not None and inspect(job).persistent:  # not undone by a rolled-back savepoint
            return
        woken[consumer] = queue.enqueue(self._s, CONSUME_JOB, {"consumer": consumer},
                                        dedup_key=f"{CONSUME_JOB}:{consumer}")
        self._s.info["jobs_enqueued"] = True  # as ServiceContext.enqueue: this process's workers wake on commit

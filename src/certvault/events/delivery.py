"""Reading events: each consumer reads each of its delivery rows exactly once, through jobs.

Exactly once: a consume job locks a batch of the consumer's delivery rows (skipping rows another job
holds), calls the consumer for each event, and deletes the rows, all in the job's own transaction, which
also marks the job done (jobs/queue.py). If the job fails or loses its lease, all of it rolls back and the
rows are read again; a row can be deleted only once, so no event is read twice.
Gap-free: every publishing transaction has a consume job claimed after it commits (its own, or on SQLite an
active one it joins; events/outbox.py). The sweep re-wakes consumers whose rows were left behind (a job that
gave up, a lost lease).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select

from certvault.db.base import utcnow
from certvault.db.locks import skip_locked
from certvault.events.consumers import CONSUMERS, ConsumerFunction
from certvault.events.models import DomainEvent, EventDelivery
from certvault.events.outbox import CONSUME_JOB
from certvault.jobs.queue import backoff

log = logging.getLogger("certvault.events")
BATCH = 200
MAX_ATTEMPTS = 5
KEEP = timedelta(days=30)


def _due(now: datetime) -> Any:
    return (EventDelivery.failed_at.is_(None)) & (EventDelivery.available_at <= now)


def consume(services: Any, name: str) -> int:
    """Read up to BATCH events for consumer `name` in the caller's (the job's) transaction; returns how many."""
    consumer = CONSUMERS.get(name)
    if consumer is None:  # listed by a newer release: its rows wait for a process that knows it
        log.warning("no consumer named %r in this release; its events stay pending", name)
        return 0
    rows = _lock_batch(services.session, name)
    read, retry_at = _read(services, consumer.resolve(), rows)
    if len(rows) == BATCH:
        services.ctx.enqueue(CONSUME_JOB, {"consumer": name})  # more are waiting
    if retry_at is not None:
        services.ctx.enqueue(CONSUME_JOB, {"consumer": name}, run_at=retry_at)
    return read


def _lock_batch(session: Any, name: str) -> list[EventDelivery]:
    stmt = (select(EventDelivery).where(EventDelivery.consumer == name, _due(utcnow()))
            .order_by(EventDelivery.event_id).limit(BATCH))
    return list(session.scalars(skip_locked(session, stmt)))


def _read(services: Any, function: ConsumerFunction, rows: list[EventDelivery]) -> tuple[int, datetime | None]:
    """Call the consumer per event; delete the rows it read. Returns (read, when to retry the failed ones)."""
    session, now = services.session, utcnow()
    ids = [row.event_id for row in rows]
    events = {e.id: e for e in session.scalars(select(DomainEvent).where(DomainEvent.id.in_(ids)))}
    read, retries = 0, []
    for row in rows:
        try:
            with session.begin_nested():  # one event's failure undoes its own effects only
                function(services, events[row.event_id])
        except Exception as exc:  # noqa: BLE001 - recorded on the row; retried later, then given up on
            retries.append(_record_failure(row, exc, now))
            continue
        session.delete(row)
        read += 1
    return read, min((when for when in retries if when is not None), default=None)


def _record_failure(row: EventDelivery, exc: Exception, now: datetime) -> datetime | None:
    row.attempts += 1
    row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    log.warning("consumer %s failed on event %s (attempt %d): %s", row.consumer, row.event_id, row.attempts,
                row.last_error)
    if row.attempts >= MAX_ATTEMPTS:
        row.failed_at = now
        return None
    row.available_at = now + backoff(row.attempts)
    return row.available_at


def sweep(services: Any) -> list[str]:
    """Enqueue a consume job for every known consumer with due rows (run every minute; its dedup key keeps
    one such job per consumer)."""
    session, now = services.session, utcnow()
    names = [n for n in session.scalars(select(EventDelivery.consumer).where(_due(now)).distinct()) if n in CONSUMERS]
    for name in names:
        services.ctx.enqueue(CONSUME_JOB, {"consumer": name}, dedup_key=f"events.sweep:{name}")
    return names


def purge(services: Any, keep: timedelta = KEEP) -> int:
    """Delete events older than `keep` that no consumer has still to read (rows given up on go with them)."""
    unread = exists().where(EventDelivery.event_id == DomainEvent.id, EventDelivery.failed_at.is_(None))
    result = services.session.execute(delete(DomainEvent).where(DomainEvent.occurred_at < utcnow() - keep, ~unread)
                                      .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


def backlog(session: Any) -> dict[str, dict[str, int]]:
    """Per consumer: events still to read (`pending`) and events it gave up on (`failed`)."""
    failed = EventDelivery.failed_at.is_not(None)
    stmt = select(EventDelivery.consumer, func.count().filter(~failed), func.count().filter(failed)
                  ).group_by(EventDelivery.consumer)
    return {name: {"pending": pending, "failed": gave_up} for name, pending, gave_up in session.execute(stmt)}

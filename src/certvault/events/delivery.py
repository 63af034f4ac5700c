"""Reading events: each consumer reads each of its delivery rows exactly once, through jobs.

Exactly once: a consume job locks a batch of the consumer's delivery rows (skipping rows another job
holds), calls the consumer for each event, and deletes the rows, all in the job's own transaction, which
also marks the job done (jobs/queue.py). If the job fails or loses its lease, all of it rolls back and the
rows are read again; a row can be deleted only once, so no event is read twice.
Nothing is skipped: rows wait until they are read (there is no cursor over ids that PostgreSQL commits out
of order). Wake-ups: a publishing transaction enqueues the consumer's job, or joins its queued or running
one (one dedup key per consumer), and a job reads until a read finds nothing. On SQLite one writing
transaction runs at a time, so a job that was joined reads after the joiner commits: immediate. On
PostgreSQL a joiner that commits after the job's last read waits for the next publish or the sweep (every
10 s); so does a row whose job gave up or lost its lease.
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
    """Read up to BATCH events for consumer `name` in the caller's (the job's) transaction; returns how many
    rows it took (read or failed)."""
    consumer = CONSUMERS.get(name)
    if consumer is None:  # listed by a newer release: its rows wait for a process that knows it
        log.warning("no consumer named %r in this release; its events stay pending", name)
        return 0
    function, taken, retries = consumer.resolve(), 0, []
    while rows := _lock_batch(services.session, name, BATCH - taken):  # again: rows committed meanwhile
        taken += len(rows)
        retries.append(_read(services, function, rows))
        if taken >= BATCH:  # more may be waiting: a follow-up job (this one still holds the dedup key)
            services.ctx.enqueue(CONSUME_JOB, {"consumer": name})
            break
    retry_at = min((when for when in retries if when is not None), default=None)
    if retry_at is not None:
        services.ctx.enqueue(CONSUME_JOB, {"consumer": name}, run_at=retry_at)
    return taken


def _lock_batch(session: Any, name: str, limit: int) -> list[EventDelivery]:
    stmt = (select(EventDelivery).where(EventDelivery.consumer == name, _due(utcnow()))
            .order_by(EventDelivery.event_id).limit(limit))
    return list(session.scalars(skip_locked(session, stmt)))


def _read(services: Any, function: ConsumerFunction, rows: list[EventDelivery]) -> datetime | None:
    """Call the consumer per event; delete the rows it read. Returns when to retry the ones that failed."""
    session, now = services.session, utcnow()
    ids = [row.event_id for row in rows]
    events = {e.id: e for e in session.scalars(select(DomainEvent).where(DomainEvent.id.in_(ids)))}
    retries = []
    for row in rows:
        try:
            with session.begin_nested():  # one event's failure undoes its own effects only
                function(services, events[row.event_id])
        except Exception as exc:  # noqa: BLE001 - recorded on the row; retried later, then given up on
            retries.append(_record_failure(row, exc, now))
            continue
        session.delete(row)
    return min((when for when in retries if when is not None), default=None)


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
    """Enqueue a consume job for every known consumer with due rows (run every 10 s; the dedup key keeps
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

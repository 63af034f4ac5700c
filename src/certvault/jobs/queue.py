"""Enqueue (in the caller's transaction), claim with a lease, complete, fail with backoff.

Exactly-once effect: a handler runs in a transaction that also marks its job done, but only if
this worker still holds the lease. If the worker dies, nothing of the handler commits and the
job is reclaimed when the lease expires; if the lease was lost, the handler's work rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from certvault.db import dialect
from certvault.db.base import table_of, utcnow
from certvault.jobs import wakeup
from certvault.jobs.models import ACTIVE, Job, Schedule


class LeaseLost(Exception):
    """Another worker reclaimed the job; this run's effects must roll back."""


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    name: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


def enqueue(
    session: Session,
    name: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: datetime | None = None,
    delay: timedelta | None = None,
    dedup_key: str | None = None,
    priority: int = 0,
    max_attempts: int = 5,
) -> Job | None:
    """Add a job in the caller's transaction. With a dedup key, an active duplicate is kept instead."""
    if run_at is None:
        run_at = utcnow() + (delay or timedelta(0))
    if dedup_key is not None:
        existing = session.scalar(
            select(Job).where(Job.dedup_key == dedup_key, Job.status.in_(ACTIVE))
        )
        if existing is not None:
            return existing
    job = Job(name=name, payload=payload or {}, run_at=run_at, dedup_key=dedup_key,
              priority=priority, max_attempts=max_attempts)
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:  # a concurrent enqueue won the dedup race
        return None
    if run_at <= utcnow():
        wakeup.notify(session)  # workers of other processes hear of it when this commits
    return job


_JOBS = table_of(Job)


def _due(now: Any) -> Any:
    c = _JOBS.c
    return or_(
        and_(c.status == "queued", c.run_at <= now),
        and_(c.status == "running", c.lease_until < now),
    )


@cache
def _claim_statement(skip_locked: bool, only: str | None = None) -> Any:
    """Built once per kind: a statement object keeps its compiled form, so a claim costs its SQL, not its
    building. `only`: a prefix of the job names to claim (a command's own worker, e.g. "acme.")."""
    c = _JOBS.c
    due = select(c.id).where(_due(bindparam("now")))
    if only is not None:
        due = due.where(c.name.like(only.replace("%", "").replace("_", r"\_") + "%", escape="\\"))
    due = due.order_by(c.priority.desc(), c.run_at).limit(bindparam("n"))
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    return (_JOBS.update().where(c.id.in_(due.scalar_subquery()))
            .values(status="running", locked_by=bindparam("worker"), lease_until=bindparam("lease_until"),
                    attempts=c.attempts + 1, started_at=bindparam("now"))
            .returning(c.id, c.name, c.payload, c.attempts, c.max_attempts, c.priority, c.run_at))


_COMPLETE = (_JOBS.update()
             .where(_JOBS.c.id == bindparam("job_id"), _JOBS.c.locked_by == bindparam("worker"),
                    _JOBS.c.status == "running")
             .values(status="done", finished_at=bindparam("now"), lease_until=None))
_NEXT_RUN_AT = select(func.min(_JOBS.c.run_at)).where(_JOBS.c.status == "queued")


def claim(session: Session, worker_id: str, limit: int, lease: timedelta, only: str | None = None
          ) -> list[ClaimedJob]:
    """Claim up to `limit` due jobs (and jobs whose lease expired) in one UPDATE ... RETURNING, of the names
    starting with `only` when given. Caller commits."""
    now = utcnow()
    stmt = _claim_statement(dialect.is_postgres(session), only)
    result = session.execute(stmt, {"now": now, "n": limit, "worker": worker_id, "lease_until": now + lease})
    rows = sorted(result.all(), key=lambda r: (-r.priority, r.run_at))  # RETURNING has no order
    return [ClaimedJob(r.id, r.name, dict(r.payload or {}), r.attempts, r.max_attempts) for r in rows]


def next_run_at(session: Session) -> datetime | None:
    """When the earliest queued job becomes due (answered by the (status, run_at) index)."""
    return session.scalar(_NEXT_RUN_AT)


def complete(session: Session, job_id: int, worker_id: str) -> None:
    """Mark done in the handler's own transaction; raises LeaseLost if another worker owns it."""
    result = session.execute(_COMPLETE, {"job_id": job_id, "worker": worker_id, "now": utcnow()})
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(f"job {job_id} was reclaimed by another worker")


def fail(session: Session, job: ClaimedJob, worker_id: str, error: str, retry_in: timedelta | None) -> str:
    """Record a failure: requeue with backoff, or mark failed when attempts are exhausted."""
    row = session.get(Job, job.id, with_for_update=dialect.for_update(session))
    if row is None or row.locked_by != worker_id or row.status != "running":
        return "lost"
    row.last_error = error[:4000]
    row.locked_by, row.lease_until = None, None
    if retry_in is not None and job.attempts < job.max_attempts:
        row.status, row.run_at = "queued", utcnow() + retry_in
    else:
        row.status, row.finished_at = "failed", utcnow()
    return row.status


def extend_lease(session: Session, job_id: int, worker_id: str, lease: timedelta) -> bool:
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.locked_by == worker_id, Job.status == "running")
        .values(lease_until=utcnow() + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def backoff(attempt: int, base: float = 2.0, cap: float = 600.0) -> timedelta:
    return timedelta(seconds=min(cap, base ** attempt))


# ---- periodic schedules ------------------------------------------------------------------------
def ensure_schedule(
    session: Session, name: str, job_name: str, interval: timedelta, payload: dict[str, Any] | None = None,
    first_run: datetime | None = None,
) -> Schedule:
    row = session.get(Schedule, name)
    seconds = int(interval.total_seconds())
    if row is None:
        row = Schedule(name=name, job_name=job_name, payload=payload or {}, interval_seconds=seconds,
                       next_run_at=first_run or utcnow())
        session.add(row)
    else:
        row.job_name, row.interval_seconds = job_name, seconds
        if payload is not None:
            row.payload = payload
    session.flush()
    return row


def tick_schedules(session: Session) -> int:
    """Enqueue one job per due tick of every schedule; each tick runs once across all workers."""
    now = utcnow()
    stmt = dialect.skip_locked(session, select(Schedule).where(Schedule.enabled == 1, Schedule.next_run_at <= now))
    fired = 0
    for sched in session.scalars(stmt):
        tick_at = sched.next_run_at
        enqueue(session, sched.job_name, {**sched.payload, "tick": tick_at.isoformat()},
                dedup_key=f"schedule:{sched.name}:{tick_at.isoformat()}")
        interval = timedelta(seconds=sched.interval_seconds)
        missed = max(0, int((now - tick_at) / interval))  # skip ticks missed while nobody ran
        sched.next_run_at = tick_at + interval * (missed + 1)
        sched.last_run_at, sched.ticks = now, sched.ticks + 1
        fired += 1
    return fired


def queue_depth(session: Session) -> dict[str, int]:
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    return {status: count for status, count in rows}


def purge_finished(session: Session, older_than: timedelta) -> int:
    from sqlalchemy import delete

    result = session.execute(
        delete(Job).where(Job.status.in_(("done",)), Job.finished_at < utcnow() - older_than)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

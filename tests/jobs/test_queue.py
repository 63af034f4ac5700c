"""The job table: enqueue with the caller's transaction, dedup, retry with backoff, schedules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from certvault.container import App
from certvault.jobs import queue
from certvault.jobs.models import Job, Schedule
from certvault.jobs.runner import JobContext, PermanentFailure, Worker, WorkerConfig

CALLS: list[Any] = []


def _worker(app: App, handlers: dict[str, Any]) -> Worker:
    return Worker(app.sessions, handlers, app.services, WorkerConfig(concurrency=1))


def test_a_job_exists_only_if_the_enqueuing_transaction_commits(app: App) -> None:
    try:
        with app.transaction() as svc:
            svc.enqueue("t.noop", {"n": 1})
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    with app.transaction() as svc:
        svc.enqueue("t.noop", {"n": 2})
    with app.sessions() as session:
        assert [j.payload["n"] for j in session.scalars(select(Job).where(Job.name == "t.noop"))] == [2]


def test_dedup_key_keeps_one_active_job(app: App) -> None:
    with app.transaction() as svc:
        first = svc.enqueue("t.noop", {}, dedup_key="order:1")
        second = svc.enqueue("t.noop", {}, dedup_key="order:1")
        assert first is second
    _worker(app, {"t.noop": lambda ctx, p: None}).run_until_idle()
    with app.transaction() as svc:  # once done, the key may be used again
        assert svc.enqueue("t.noop", {}, dedup_key="order:1") is not first


def test_handler_effects_and_done_mark_commit_together(app: App) -> None:
    def handler(ctx: JobContext, payload: dict[str, Any]) -> None:
        ctx.services.enqueue("t.follow_up", {"from": payload["n"]})
        if payload["n"] == 2:
            raise ValueError("boom")

    with app.transaction() as svc:
        svc.enqueue("t.step", {"n": 1}, max_attempts=1)
        svc.enqueue("t.step", {"n": 2}, max_attempts=1)
    _worker(app, {"t.step": handler}).run_until_idle()
    with app.sessions() as session:
        jobs = {(j.name, j.payload.get("n", j.payload.get("from"))): j for j in session.scalars(select(Job))}
    assert jobs[("t.step", 1)].status == "done" and jobs[("t.step", 2)].status == "failed"
    assert "ValueError: boom" in (jobs[("t.step", 2)].last_error or "")
    assert ("t.follow_up", 1) in jobs and ("t.follow_up", 2) not in jobs  # the failed run's work rolled back


def test_failures_are_retried_with_backoff_then_marked_failed(app: App) -> None:
    attempts: list[int] = []

    def flaky(ctx: JobContext, payload: dict[str, Any]) -> None:
        attempts.append(ctx.job.attempts)
        raise RuntimeError("peer down")

    with app.transaction() as svc:
        svc.enqueue("t.flaky", {}, max_attempts=3)
    worker = _worker(app, {"t.flaky": flaky})
    worker.run_until_idle()
    with app.sessions() as session:
        job = session.scalars(select(Job).where(Job.name == "t.flaky")).one()
        assert job.status == "queued" and job.attempts == 1 and job.run_at > job.created_at  # backed off
        job.run_at = job.created_at
        session.commit()
    worker.run_until_idle()
    with app.sessions() as session:
        job = session.scalars(select(Job).where(Job.name == "t.flaky")).one()
        job.run_at = job.created_at
        session.commit()
    worker.run_until_idle()
    with app.sessions() as session:
        job = session.scalars(select(Job).where(Job.name == "t.flaky")).one()
    assert attempts == [1, 2, 3] and job.status == "failed" and "peer down" in (job.last_error or "")


def test_permanent_failure_is_not_retried(app: App) -> None:
    def hopeless(ctx: JobContext, payload: dict[str, Any]) -> None:
        raise PermanentFailure("certificate request refused by the CA")

    with app.transaction() as svc:
        svc.enqueue("t.hopeless", {})
    _worker(app, {"t.hopeless": hopeless}).run_until_idle()
    with app.sessions() as session:
        job = session.scalars(select(Job).where(Job.name == "t.hopeless")).one()
    assert job.status == "failed" and job.attempts == 1


def test_an_expired_lease_is_reclaimed_and_the_late_worker_cannot_complete(app: App) -> None:
    with app.transaction() as svc:
        svc.enqueue("t.slow", {})
    with app.sessions.begin() as session:
        (stale,) = queue.claim(session, "worker-a", 1, timedelta(seconds=-1))  # lease already expired
    with app.sessions.begin() as session:
        (again,) = queue.claim(session, "worker-b", 1, timedelta(seconds=60))
    assert again.id == stale.id and again.attempts == 2
    import pytest

    with pytest.raises(queue.LeaseLost):
        with app.sessions.begin() as session:
            queue.complete(session, stale.id, "worker-a")
    with app.sessions.begin() as session:
        queue.complete(session, again.id, "worker-b")


def test_schedule_ticks_enqueue_once_each(app: App) -> None:
    from datetime import UTC, datetime

    with app.transaction() as svc:
        queue.ensure_schedule(svc.session, "t.every_minute", "t.tick", timedelta(minutes=1),
                              first_run=datetime.now(UTC) - timedelta(seconds=1))
    with app.sessions.begin() as session:
        assert queue.tick_schedules(session) == 1
    with app.sessions.begin() as session:
        assert queue.tick_schedules(session) == 0  # next tick is a minute away
        sched = session.get(Schedule, "t.every_minute")
        assert sched is not None and sched.ticks == 1
        assert len(list(session.scalars(select(Job).where(Job.name == "t.tick")))) == 1


def test_a_background_worker_runs_delayed_jobs_at_their_time_not_at_the_next_poll(app: App) -> None:
    """The worker sleeps until the earliest run_at (and is woken by enqueues in this process): with a
    60 s poll interval, a delayed job and the delayed follow-up it enqueues run long before a poll."""
    import threading

    done = threading.Event()
    worker = app.worker(concurrency=2, poll_interval=60)
    worker.config.schedule_every = 60
    worker.handlers.update({
        "t.first": lambda ctx, p: ctx.services.enqueue("t.second", {}, delay=timedelta(seconds=0.2)),
        "t.second": lambda ctx, p: done.set(),
    })
    thread = worker.start_background()
    try:
        with app.transaction() as svc:
            svc.enqueue("t.first", {}, delay=timedelta(seconds=0.2))
        assert done.wait(30), "the delayed jobs waited for the 60 s poll"
    finally:
        worker.stop()
        thread.join(10)


def test_a_worker_for_one_prefix_claims_only_those_jobs(app: App) -> None:
    """`acme request --wait` runs its order's jobs and leaves what the order's events start to the server."""
    with app.transaction() as svc:
        for name in ("acme.order.advance", "events.consume", "acmeX.other", "acme_order"):
            queue.enqueue(svc.session, name, {})
    with app.sessions.begin() as session:
        claimed = queue.claim(session, "cli", 10, timedelta(seconds=60), only="acme.")
    assert [job.name for job in claimed] == ["acme.order.advance"]
    with app.sessions.begin() as session:
        rest = queue.claim(session, "server", 10, timedelta(seconds=60))
    assert sorted(job.name for job in rest) == ["acmeX.other", "acme_order", "events.consume"]

"""The domain-event outbox on SQLite and PostgreSQL: an event exists if and only if its transaction commits,
and each consumer reads each event exactly once through jobs, whatever the workers do."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from certvault.container import App
from certvault.db.base import utcnow
from certvault.events import delivery
from certvault.events.models import DomainEvent, EventDelivery
from certvault.jobs import queue
from certvault.jobs.models import Job
from certvault.jobs.queue import LeaseLost
from tests.events.probe import HOOKS, publish, reads, registered


def _pending(app: App) -> int:
    with app.sessions() as session:
        return session.scalar(select(func.count()).select_from(EventDelivery)) or 0


def test_a_committed_event_is_read_once_and_a_rolled_back_one_never(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    with registered(monkeypatch, app, "first"):
        [kept] = publish(app)
        with pytest.raises(RuntimeError), app.transaction() as svc:
            svc.ctx.events.publish("secret.overdue", title="never happened")
            raise RuntimeError("the change is refused")
        app.worker().run_until_idle()
        app.worker().run_until_idle()  # nothing left to read: nothing read twice
        assert reads(app, "first") == [kept]
    with app.sessions() as session:
        assert [e.type for e in session.scalars(select(DomainEvent))] == ["secret.expiring"]
    assert _pending(app) == 0


def test_two_workers_read_every_event_exactly_once(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "BATCH", 2)  # many small batches: both workers run consume jobs side by side
    with registered(monkeypatch, app, "first"):
        published = publish(app, 10)  # some waiting before the workers start, more while they run
        workers = [app.worker(concurrency=4, poll_interval=0.02, worker_id=f"w{n}") for n in (1, 2)]
        for worker in workers:
            worker.start_background()
        for _ in range(30):
            published += publish(app, 3)
        deadline = time.monotonic() + 60
        while _pending(app) and time.monotonic() < deadline:
            time.sleep(0.05)
        for worker in workers:
            worker.stop()
        assert reads(app, "first") == sorted(published)  # each once: no duplicates, none missing
    with app.sessions() as session:
        runs = list(session.scalars(select(Job.locked_by).where(Job.name == "events.consume")))
    assert len(runs) > 1
    if app.engine.dialect.name == "postgresql":  # both took batches side by side (on SQLite they take turns)
        assert len(set(runs)) == 2


def test_a_consumer_failure_is_retried_and_its_partial_effects_never_commit(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "backoff", lambda attempt: delivery.timedelta(0))
    failed_once: set[int] = set()

    def fail_first_time(services: Any, event: Any) -> None:
        if event.id not in failed_once:
            failed_once.add(event.id)
            services.session.execute(delete(Job).where(Job.name == "nothing"))  # some effect, then a failure
            raise ConnectionError("help desk down")

    with registered(monkeypatch, app, "first"):
        HOOKS["first"] = fail_first_time
        ids = publish(app, 3)
        app.worker().run_until_idle()
        assert reads(app, "first") == ids and failed_once == set(ids)
    assert _pending(app) == 0


def test_a_run_that_loses_its_lease_rolls_back_and_the_retry_reads_once(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    real_complete, lost = queue.complete, []

    def lose_the_first_lease(session: Any, job_id: int, worker_id: str) -> None:
        if not lost:
            lost.append(job_id)
            raise LeaseLost(f"job {job_id} was reclaimed by another worker")
        real_complete(session, job_id, worker_id)

    with registered(monkeypatch, app, "first"):
        ids = publish(app, 2)
        monkeypatch.setattr(queue, "complete", lose_the_first_lease)
        worker = app.worker(lease_seconds=0)  # the lost job is due again at once
        worker.run_until_idle()
        assert lost and reads(app, "first") == ids
    with app.sessions() as session:
        assert session.get(Job, lost[0]).status == "done"  # the reclaimed run finished it


def test_an_event_published_while_the_consumer_job_runs_is_read(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    late: list[int] = []
    publisher = threading.Thread(target=lambda: late.extend(publish(app, 1)))

    def publish_meanwhile(services: Any, event: Any) -> None:
        if event.subject == "s0" and not publisher.is_alive() and not late:
            # Another request appends an event while this job runs. On PostgreSQL it commits before this job
            # does, after the job read its batch; on SQLite it waits for this job's write lock.
            publisher.start()
            publisher.join(timeout=1.0)

    with registered(monkeypatch, app, "first"):
        HOOKS["first"] = publish_meanwhile
        [early] = publish(app)
        worker = app.worker()
        worker.run_until_idle()
        publisher.join(timeout=30)
        worker.run_until_idle()
        assert len(late) == 1 and reads(app, "first") == [early, *late]


def test_a_consumer_listed_later_starts_from_now(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    with registered(monkeypatch, app, "first"):
        before = publish(app, 2)
        with registered(monkeypatch, app, "second"):
            after = publish(app, 1)
            app.worker().run_until_idle()
            assert reads(app, "first") == before + after
            assert reads(app, "second") == after


def test_the_sweep_wakes_a_consumer_whose_job_is_gone(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    with registered(monkeypatch, app, "first"):
        ids = publish(app, 2)
        with app.transaction() as svc:  # as if its consume job had failed for good
            svc.session.execute(delete(Job).where(Job.name == "events.consume"))
        app.worker().run_until_idle()
        assert reads(app, "first") == []
        with app.transaction() as svc:
            svc.enqueue("events.sweep", {})  # what the schedule does every minute
        app.worker().run_until_idle()
        assert reads(app, "first") == ids


def test_a_consumer_that_keeps_failing_gives_up_and_the_metrics_say_so(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    from certvault.api.metrics import render_metrics

    monkeypatch.setattr(delivery, "backoff", lambda attempt: delivery.timedelta(0))

    def always_fail(services: Any, event: Any) -> None:
        raise ValueError("bad payload")

    with registered(monkeypatch, app, "first"):
        HOOKS["first"] = always_fail
        publish(app, 1)
        app.worker().run_until_idle()
        with app.transaction() as svc:
            [row] = svc.session.scalars(select(EventDelivery).where(EventDelivery.consumer == "first"))
            assert row.failed_at is not None and row.attempts == delivery.MAX_ATTEMPTS
            assert row.last_error == "ValueError: bad payload"
            text = render_metrics(svc).decode()
    assert 'certvault_events_failed{consumer="first"} 1.0' in text
    assert 'certvault_events_pending{consumer="first"} 0.0' in text


def test_old_events_are_purged_once_read_and_kept_while_unread(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    with registered(monkeypatch, app, "first"):
        [read] = publish(app)
        app.worker().run_until_idle()
        [unread] = publish(app)  # its consume job has not run yet
        with app.transaction() as svc:
            svc.session.execute(update(DomainEvent).values(occurred_at=utcnow() - timedelta(days=31)))
        with app.transaction() as svc:
            assert delivery.purge(svc) == 1  # what the events.purge job does every 6 hours
        with app.sessions() as session:
            assert list(session.scalars(select(DomainEvent.id))) == [unread]
        app.worker().run_until_idle()
        assert reads(app, "first") == [read, unread]


def test_a_joiner_committing_after_the_jobs_last_read_waits_for_the_sweep_on_postgres_only(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    real_lock_batch, late = delivery._lock_batch, []
    publisher = threading.Thread(target=lambda: late.extend(publish(app, 1)))

    def last_read_then_publish(session: Any, name: str, limit: int) -> list[Any]:
        rows = real_lock_batch(session, name, limit)
        if name == "first" and not rows and not publisher.is_alive() and not late:  # its last read: nothing
            publisher.start()  # PostgreSQL: it joins the running job and commits; SQLite: it waits for the job
            publisher.join(timeout=1.0)
        return rows

    with registered(monkeypatch, app, "first"):
        [early] = publish(app)
        monkeypatch.setattr(delivery, "_lock_batch", last_read_then_publish)
        worker = app.worker()
        worker.run_until_idle()
        publisher.join(timeout=30)
        worker.run_until_idle()
        postgres = app.engine.dialect.name == "postgresql"
        assert reads(app, "first") == ([early] if postgres else [early, *late])
        with app.transaction() as svc:
            svc.enqueue("events.sweep", {})  # what the schedule does every 10 s
        worker.run_until_idle()
        assert reads(app, "first") == [early, *late]

"""A worker hears of jobs that other processes enqueue (PostgreSQL NOTIFY, SQLite data_version watch)
long before its poll interval: here the poll interval is ten minutes."""

from __future__ import annotations

import threading
import time
from typing import Any

from certvault.container import App, build_app
from certvault.jobs.runner import Worker, WorkerConfig


def test_a_worker_hears_of_jobs_enqueued_by_another_process(app: App) -> None:
    # A second app on the same database stands for another process: its commits never reach this worker
    # through the in-process wake-up, so only the cross-process wake-up can start the job before the poll.
    other = build_app(app.settings, run_migrations=False)
    ran: dict[str, threading.Event] = {"first": threading.Event(), "second": threading.Event()}

    def handler(ctx: Any, payload: dict[str, Any]) -> None:
        ran[payload["n"]].set()

    worker = Worker(app.sessions, {"t.ping": handler}, app.services,
                    WorkerConfig(concurrency=2, poll_interval=600, schedule_every=600))
    try:
        with other.transaction() as svc:
            svc.enqueue("t.ping", {"n": "first"})  # found by the worker's first claim, at start
        thread = worker.start_background()
        assert ran["first"].wait(30)
        time.sleep(0.3)  # the worker is now idle, waiting up to its ten-minute poll interval
        with other.transaction() as svc:
            svc.enqueue("t.ping", {"n": "second"})
        assert ran["second"].wait(30), "the worker did not hear of a job enqueued by another process"
    finally:
        worker.stop()
        other.close()
    thread.join(10)

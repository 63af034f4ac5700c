"""The worker: ticks schedules, claims due jobs, runs each handler in its own transaction.

Handlers are looked up by job name. A handler receives the services bound to its transaction and
the payload; it should do one short, idempotent step and enqueue the next one if there is more.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from certvault.db.base import utcnow
from certvault.jobs import queue, wakeup
from certvault.jobs.queue import ClaimedJob, LeaseLost

if TYPE_CHECKING:  # the type only: the worker gets the container's binder at run time
    from certvault.container import Services

log = logging.getLogger("certvault.jobs")


class JobContext:
    """What a handler gets. `services` is bound to the transaction that also marks the job done.

    On SQLite a transaction holds the database write lock, so a handler that talks to the network
    should do that first (or inside `step()` blocks for reads) and touch `services` last.
    """

    def __init__(self, worker: Worker, job: ClaimedJob) -> None:
        self.job = job
        self.worker_id = worker.id
        self._worker = worker
        self._session: Session | None = None
        self._services: Services | None = None

    @property
    def services(self) -> Services:
        if self._services is None:
            self._session = self._worker.sessions()
            self._services = self._worker.bind_services(self._session)
        return self._services

    @contextmanager
    def step(self) -> Iterator[Services]:
        """A separate short transaction, committed on exit (reads, or idempotent progress)."""
        with self._worker.sessions.begin() as session:
            yield self._worker.bind_services(session)

    def _finish(self) -> None:
        session = self._session or self._worker.sessions()
        self._session = session
        queue.complete(session, self.job.id, self.worker_id)
        session.commit()

    def _close(self, commit: bool) -> None:
        if self._session is not None:
            if not commit:
                self._session.rollback()
            self._session.close()
            self._session = self._services = None


Handler = Callable[[JobContext, dict[str, Any]], None]


class RetryLater(Exception):
    """Raised by a handler to be run again after `delay` (counts as an attempt)."""

    def __init__(self, message: str, delay: timedelta) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentFailure(Exception):
    """Raised by a handler when retrying cannot help."""


@dataclass
class WorkerConfig:
    concurrency: int = 8
    poll_interval: float = 0.5
    lease: timedelta = timedelta(seconds=120)
    schedule_every: float = 0.5
    watch_interval: float = 0.01  # SQLite: how often to look for commits of other processes (jobs/wakeup.py)
    only: str | None = None  # claim only jobs whose name starts with this (a command's own worker: "acme.")


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        handlers: MutableMapping[str, Handler],
        bind_services: Callable[[Session], Services],
        config: WorkerConfig | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.handlers = handlers  # not copied: the app's JobHandlers imports a job module when first needed
        self.bind_services = bind_services
        self.config = config or WorkerConfig()
        self.id = worker_id or new_worker_id()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._slots = threading.Semaphore(self.config.concurrency)
        self._running: set[int] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="job")
        self._next_due: datetime | None = None  # earliest queued run_at seen by the last claim
        self._saturated = True  # the last claim filled every free slot
        self.job_done = threading.Event()  # set after every job: who waits on a job's outcome looks then

    # ---- control -----------------------------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    def _hint(self, earliest: datetime | None) -> None:
        """Another process enqueued something: claim now if it is due, else wake up when it is."""
        if earliest is None or earliest <= utcnow():
            self._wake.set()
        elif self._next_due is None or earliest < self._next_due:
            self._next_due = earliest
            self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def start_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=f"worker-{self.id}", daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        log.info("worker %s started (%d slots)", self.id, self.config.concurrency)
        heartbeat = threading.Thread(target=self._heartbeat, daemon=True)
        heartbeat.start()
        wakeup.start_watcher(self.sessions.kw["bind"], self._hint, self._stop, self.config.watch_interval)
        next_tick = 0.0
        while not self._stop.is_set():
            # Cleared before claiming: a wake-up that arrives while we claim is kept, never lost.
            self._wake.clear()
            idle: float | None = self.config.poll_interval
            try:
                if time.monotonic() >= next_tick:
                    self._tick_schedules()
                    next_tick = time.monotonic() + self.config.schedule_every
                claimed = self._claim_and_dispatch()
                # Claim again at once only when more may be due (every free slot was filled, or we
                # waited for a slot); otherwise sleep until woken or the next job's run_at.
                idle = None if claimed < 0 or (claimed and self._saturated) else self._idle_wait(next_tick)
            except Exception:  # a database hiccup must not kill the worker
                log.exception("worker loop error")
            if idle is not None:
                self._wake.wait(idle)
        self._pool.shutdown(wait=True)
        log.info("worker %s stopped", self.id)

    def run_until_idle(self, timeout: float = 30.0) -> None:
        """Process jobs in the calling thread until none is due (tests and `--wait` commands)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._tick_schedules()
            with self.sessions.begin() as session:
                jobs = queue.claim(session, self.id, 1, self.config.lease, self.config.only)
            if not jobs:
                return
            self._execute(jobs[0])

    # ---- internals ---------------------------------------------------------------------------
    def _tick_schedules(self) -> None:
        if self.config.only is not None:  # a command's own worker runs its jobs; schedules are the servers' to tick
            return
        with self.sessions.begin() as session:
            queue.tick_schedules(session)

    def _idle_wait(self, next_tick: float) -> float:
        """Sleep until the earliest delayed job is due (or the next schedule tick), at most poll_interval.

        Delayed jobs (e.g. "poll the CA again in 20 ms") then run on time instead of a poll later;
        jobs enqueued by other processes are still seen within poll_interval.
        """
        wait = min(self.config.poll_interval, max(0.0, next_tick - time.monotonic()))
        if self._next_due is not None:
            wait = min(wait, (self._next_due - utcnow()).total_seconds())
        return max(wait, 0.001)

    def _claim_and_dispatch(self) -> int:
        free = 0
        while self._slots.acquire(blocking=False):
            free += 1
        if not free:
            self._saturated = True
            self._wake.wait(self.config.poll_interval)  # a finishing job sets the event
            return -1  # busy, not idle: claim again as soon as a slot is free
        with self.sessions.begin() as session:
            jobs = queue.claim(session, self.id, free, self.config.lease, self.config.only)
            self._next_due = queue.next_run_at(session) if len(jobs) < free else None
        # Every slot filled: more jobs may be due, so a finishing job should wake the loop. Otherwise
        # every due job was claimed and new ones announce themselves (enqueue wake-up, _next_due).
        self._saturated = len(jobs) == free
        for _ in range(free - len(jobs)):
            self._slots.release()
        for job in jobs:
            with self._lock:
                self._running.add(job.id)
            self._pool.submit(self._run_slot, job)
        return len(jobs)

    def _run_slot(self, job: ClaimedJob) -> None:
        try:
            self._execute(job)
        except Exception as exc:  # noqa: BLE001 - a pool thread's exception would vanish with its future
            # Not the handler's own failure (that is recorded in _execute) but recording it, or finding the
            # handler, failed: say so, and hand the job back for a retry instead of leaving it "running".
            log.exception("job %s (%s) could not be run or recorded", job.id, job.name)
            try:
                self._record_failure(job, f"{type(exc).__name__}: {exc}", queue.backoff(job.attempts))
            except Exception:  # noqa: BLE001 - the lease runs out and another claim retries it
                log.exception("job %s (%s): its failure could not be recorded either", job.id, job.name)
        finally:
            with self._lock:
                self._running.discard(job.id)
            self._slots.release()
            self.job_done.set()
            if self._saturated:
                self._wake.set()

    def _execute(self, job: ClaimedJob) -> None:
        handler = self.handlers.get(job.name)
        if handler is None:
            self._record_failure(job, f"no handler for job {job.name!r}", None)
            return
        ctx = JobContext(self, job)
        committed = False
        try:
            handler(ctx, job.payload)
            ctx._finish()
            committed = True
        except LeaseLost:
            log.warning("job %s lost its lease; its work was rolled back", job.id)
        except RetryLater as exc:
            ctx._close(commit=False)
            self._record_failure(job, str(exc), exc.delay)
        except PermanentFailure as exc:
            ctx._close(commit=False)
            self._record_failure(job, str(exc), None)
        except Exception as exc:
            ctx._close(commit=False)
            log.warning("job %s (%s) failed: %s", job.id, job.name, exc)
            self._record_failure(job, f"{type(exc).__name__}: {exc}", queue.backoff(job.attempts))
        finally:
            ctx._close(commit=committed)

    def _record_failure(self, job: ClaimedJob, error: str, retry_in: timedelta | None) -> None:
        with self.sessions.begin() as session:
            queue.fail(session, job, self.id, error, retry_in)
        if retry_in is not None:
            self._wake.set()  # the retry's run_at is news to the claim loop

    def _heartbeat(self) -> None:
        interval = max(1.0, self.config.lease.total_seconds() / 3)
        while not self._stop.wait(interval):
            with self._lock:
                running = list(self._running)
            if not running:
                continue
            try:
                with self.sessions.begin() as session:
                    for job_id in running:
                        queue.extend_lease(session, job_id, self.id, self.config.lease)
            except Exception:
                log.exception("lease heartbeat failed")

"""Job handlers and the periodic sweep of help-desk tickets (a few lines each)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from certvault.jobs import queue
from certvault.jobs.runner import Handler, JobContext, RetryLater
from certvault.jobs.schedules import PeriodicJob
from certvault.tickets.sync import DEFAULT_WITHIN_DAYS, TicketSync

SYNC_JOB = "tickets.sync"


def sync(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Apply both rule sets to every enabled help desk (or the one named); network outside transactions.
    A help desk that is down leaves its work pending and the job runs again with backoff."""
    helpdesks = [uuid.UUID(payload["helpdesk"])] if payload.get("helpdesk") else None
    # A record is leased as long as the job itself: a worker that dies frees both at the same time.
    lease = getattr(getattr(getattr(ctx, "_worker", None), "config", None), "lease", timedelta(seconds=120))
    report = TicketSync(ctx.step, ctx.worker_id, lease=lease,
                        within_days=int(payload.get("within_days") or DEFAULT_WITHIN_DAYS)).run(helpdesks)
    if report.retry:
        raise RetryLater("a help desk was unavailable; its tickets stay pending", queue.backoff(ctx.job.attempts))


HANDLERS: dict[str, Handler] = {SYNC_JOB: sync}
SCHEDULES: list[PeriodicJob] = [PeriodicJob(SYNC_JOB, SYNC_JOB, timedelta(minutes=10))]

"""Housekeeping jobs of the job system itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from certvault.jobs import queue
from certvault.jobs.runner import Handler, JobContext
from certvault.jobs.schedules import PeriodicJob


def purge_finished_jobs(ctx: JobContext, payload: dict[str, Any]) -> None:
    queue.purge_finished(ctx.services.session, timedelta(days=int(payload.get("days", 7))))


HANDLERS: dict[str, Handler] = {"jobs.purge_finished": purge_finished_jobs}
SCHEDULES = [PeriodicJob("jobs.purge_finished", "jobs.purge_finished", timedelta(hours=6))]

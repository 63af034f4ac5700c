"""Auth housekeeping: forget failed-login counters whose window (and block) is over (auth/throttle.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from certvault.jobs.runner import Handler, JobContext
from certvault.jobs.schedules import PeriodicJob

PURGE_JOB = "auth.purge_login_failures"


def purge_login_failures(ctx: JobContext, payload: dict[str, Any]) -> None:
    ctx.services.auth.throttle.purge_expired()


HANDLERS: dict[str, Handler] = {PURGE_JOB: purge_login_failures}
SCHEDULES: list[PeriodicJob] = [PeriodicJob(PURGE_JOB, PURGE_JOB, timedelta(hours=1))]

"""Job entry points of the event outbox: read a consumer's events, sweep for left-behind ones, purge old ones."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from certvault.events import delivery
from certvault.events.outbox import CONSUME_JOB
from certvault.jobs.runner import Handler, JobContext
from certvault.jobs.schedules import PeriodicJob

SWEEP_JOB, PURGE_JOB = "events.sweep", "events.purge"


def consume_events(ctx: JobContext, payload: dict[str, Any]) -> None:
    delivery.consume(ctx.services, payload["consumer"])


def sweep(ctx: JobContext, payload: dict[str, Any]) -> None:
    delivery.sweep(ctx.services)


def purge(ctx: JobContext, payload: dict[str, Any]) -> None:
    delivery.purge(ctx.services)


HANDLERS: dict[str, Handler] = {CONSUME_JOB: consume_events, SWEEP_JOB: sweep, PURGE_JOB: purge}
SCHEDULES = [PeriodicJob(SWEEP_JOB, SWEEP_JOB, timedelta(seconds=10)),
             PeriodicJob(PURGE_JOB, PURGE_JOB, timedelta(hours=6))]

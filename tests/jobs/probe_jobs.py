"""Site-specific job module used by the scale-out test (loaded through worker.job_modules).

Each job leaves an effect row in a table the test created; the handler holds its transaction
open a little so that a SIGKILL lands mid-job.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from certvault.jobs.runner import Handler, JobContext
from certvault.jobs.schedules import PeriodicJob


def leave_effect(ctx: JobContext, payload: dict[str, Any]) -> None:
    ctx.services.session.execute(text("INSERT INTO probe_effects (job_key, worker) VALUES (:k, :w)"),
                                 {"k": payload["key"], "w": ctx.worker_id})
    time.sleep(float(payload.get("hold", 0.02)))


def record_tick(ctx: JobContext, payload: dict[str, Any]) -> None:
    ctx.services.session.execute(text("INSERT INTO probe_ticks (tick, worker) VALUES (:t, :w)"),
                                 {"t": payload["tick"], "w": ctx.worker_id})


HANDLERS: dict[str, Handler] = {"probe.effect": leave_effect, "probe.tick": record_tick}
SCHEDULES = [PeriodicJob("probe.tick", "probe.tick", timedelta(seconds=1))]

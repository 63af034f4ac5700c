"""Vault jobs: automatic check-in at the end of a check-out, expiry/rotation reminders."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from certvault.jobs.runner import Handler, JobContext
from certvault.jobs.schedules import PeriodicJob
from certvault.vault.protection import CHECKIN_JOB

REMIND_JOB = "vault.send_reminders"


def auto_checkin(ctx: JobContext, payload: dict[str, Any]) -> None:
    ctx.services.vault.protection.expire_checkout(uuid.UUID(payload["checkout_id"]))


def send_reminders(ctx: JobContext, payload: dict[str, Any]) -> None:
    ctx.services.vault.lifecycle.send_reminders()


HANDLERS: dict[str, Handler] = {CHECKIN_JOB: auto_checkin, REMIND_JOB: send_reminders}
SCHEDULES: list[PeriodicJob] = [PeriodicJob("vault.reminders", REMIND_JOB, timedelta(hours=1))]

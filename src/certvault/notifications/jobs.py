"""Deliver outbox messages (with retries); run due notification policies (checked every minute)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from certvault.errors import IntegrationError
from certvault.jobs.queue import backoff
from certvault.jobs.runner import Handler, JobContext, PermanentFailure, RetryLater
from certvault.jobs.schedules import PeriodicJob
from certvault.notifications.service import DELIVER_JOB


def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
    message_id = uuid.UUID(payload["message_id"])
    with ctx.step() as svc:  # read and decrypt, then send outside any transaction
        delivery = svc.notifications.prepare_delivery(message_id)
    if delivery is None:
        return
    try:
        delivery.notifier.send(delivery.notification)
    except IntegrationError as exc:
        final = ctx.job.attempts >= ctx.job.max_attempts
        with ctx.step() as svc:
            svc.notifications.record_failure(message_id, exc.message, final)
        if final:
            raise PermanentFailure(exc.message) from None
        raise RetryLater(exc.message, backoff(ctx.job.attempts)) from None
    ctx.services.notifications.mark_sent(message_id)


POLICIES_JOB = "notifications.policies"


def run_due_policies(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Each due policy in its own transaction; a claimed slot commits with the run's outbox messages."""
    with ctx.step() as svc:
        due = svc.notification_policies.due()
        svc.notifications.purge_findings()
    for policy_id in due:
        with ctx.step() as svc:
            svc.notification_policies.run_due(policy_id)


HANDLERS: dict[str, Handler] = {DELIVER_JOB: deliver, POLICIES_JOB: run_due_policies}
SCHEDULES: list[PeriodicJob] = [PeriodicJob(POLICIES_JOB, POLICIES_JOB, timedelta(minutes=1))]

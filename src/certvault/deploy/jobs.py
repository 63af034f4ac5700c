"""The deployment job: deploy -> verify -> (rollback), one committed step at a time (see deploy/service.py)."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from certvault.deploy.service import RUN_JOB, SYSTEM, TargetBusy, Work
from certvault.errors import CertvaultError
from certvault.jobs.runner import Handler, JobContext, RetryLater
from certvault.plugins.protocols import DeployFailed, VerificationFailed

log = logging.getLogger("certvault.deploy")


def _reason(exc: BaseException) -> str:
    return exc.message if isinstance(exc, CertvaultError) else f"{type(exc).__name__}: {exc}"[:500]


def run_deployment(ctx: JobContext, payload: dict[str, Any]) -> None:
    deployment_id = uuid.UUID(payload["deployment_id"])
    while True:
        try:
            with ctx.step() as svc:
                work = svc.deploy.prepare(deployment_id)
        except TargetBusy as exc:
            raise RetryLater(str(exc), timedelta(seconds=3)) from None
        if work is None or not _advance(ctx, work):
            return


def _advance(ctx: JobContext, work: Work) -> bool:
    """One network step and its committed outcome; False once the deployment is final."""
    if work.status == "deploying":
        try:
            receipt = work.target.deploy(work.bundle)
        except DeployFailed as exc:
            return _final(ctx, work, "rolled_back" if exc.rolled_back else "failed", exc.message)
        except Exception as exc:  # noqa: BLE001 - a plugin's unexpected error fails this deployment, with why
            log.warning("deployment %s: deploy raised", work.id, exc_info=True)
            return _final(ctx, work, "failed", _reason(exc))
        with ctx.step() as svc:
            svc.deploy.deployed(work.id, receipt)
        return True
    if work.status == "deployed":
        try:
            work.target.verify(work.bundle)
        except Exception as exc:  # noqa: BLE001 - any failed proof rolls back
            served = exc.served_serial if isinstance(exc, VerificationFailed) else ""
            with ctx.step() as svc:
                svc.deploy.rolling_back(work.id, _reason(exc), served)
            return True
        return _final(ctx, work, "verified", None, work.bundle.serial)
    if work.status == "rolling_back":
        try:
            work.target.rollback(work.receipt)
        except Exception as exc:  # noqa: BLE001
            with ctx.step() as svc:
                run = svc.deploy.deployment(SYSTEM, work.id)
                reason = f"{run.reason or 'verification failed'}; the rollback failed too: {_reason(exc)}"
            return _final(ctx, work, "failed", reason)
        return _final(ctx, work, "rolled_back", None)
    return False


def _final(ctx: JobContext, work: Work, status: str, reason: str | None, served: str | None = None) -> bool:
    with ctx.step() as svc:
        svc.deploy.finish(work.id, status, reason, served)
    return False


HANDLERS: dict[str, Handler] = {RUN_JOB: run_deployment}
SCHEDULES: list[Any] = []

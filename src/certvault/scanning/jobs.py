"""Scan jobs: expand a run into batches, scan one batch, start the runs of due schedules.

Network work (DNS, TLS) happens between short transactions: on SQLite a transaction holds the
write lock, so `ctx.services` (the transaction that also marks the job done) is touched last.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from certvault.auth.rbac import Actor
from certvault.jobs.runner import Handler, JobContext
from certvault.jobs.schedules import PeriodicJob
from certvault.scanning import engine
from certvault.scanning.runs import BATCH_JOB, EXPAND_JOB
from certvault.scanning.service import HISTORY_DAYS
from certvault.scanning.targets import dedupe, expand, parse_target, resolve_names, target_from_list
from certvault.tls.scanner import ScanTarget

DISPATCH_JOB = "scanning.dispatch_schedules"
PURGE_JOB = "scanning.purge_history"
PURGE_STEP = 5000


def _actor() -> Actor:
    return Actor.system("scanner", via="job")


def expand_run(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Resolve the run's targets to addresses and enqueue one job per batch."""
    run_id = uuid.UUID(payload["run_id"])
    with ctx.step() as svc:
        plan = svc.scanning.plan_run(_actor(), run_id)
    if plan is None:
        return
    spec = plan.spec
    entries = [parse_target(h) for h in spec.hosts]
    targets, unresolved = asyncio.run(expand(entries, spec.ports, spec.sni, spec.starttls))
    if plan.seen or plan.names:
        targets += [ScanTarget(host, ip, port, sni, spec.starttls) for host, ip, port, sni in plan.seen]
        by_name, missing = asyncio.run(resolve_names([(n, p) for n in plan.names for p in spec.ports],
                                                     spec.sni, spec.starttls))
        targets += by_name
        unresolved += missing
    ctx.services.scanning.schedule_batches(_actor(), run_id, dedupe(targets), unresolved)


def scan_batch(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Scan one batch of targets, then store the results with the run's progress in one commit."""
    run_id = uuid.UUID(payload["run_id"])
    with ctx.step() as svc:
        settings = svc.scanning.batch_settings(_actor(), run_id)
        own_root = svc.pki.root_pem() if settings is not None else ""
    if settings is None:  # cancelled or deleted: nothing to do
        return
    settings = settings.trusting(own_root)  # certvault trusts its own internal CA (its own server's issuer)
    targets = [target_from_list(row) for row in payload["targets"]]
    results: list[dict[str, Any]] = []
    with engine.engine_options(settings) as options:
        engine.scan(targets, options, settings.concurrency, results.append)
    ctx.services.scanning.store_results(_actor(), run_id, results, batch_done=True)


def dispatch_schedules(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Every minute: start the runs of due schedules, and fail runs whose batch jobs gave up."""
    actor = Actor.system("scheduler", via="job")
    ctx.services.scanning.dispatch_due_schedules(actor)
    ctx.services.scanning.reap_stalled_runs(actor)


def purge_history(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Daily: drop old history in bounded steps (a step per job keeps transactions short)."""
    days = int(payload.get("days", HISTORY_DAYS))
    removed = ctx.services.scanning.purge_history(Actor.system("retention", via="job"), days, PURGE_STEP)
    if removed == PURGE_STEP:  # more to do: another short step right after this one
        ctx.services.enqueue(PURGE_JOB, {"days": days}, dedup_key="scan-purge-more")


HANDLERS: dict[str, Handler] = {
    EXPAND_JOB: expand_run,
    BATCH_JOB: scan_batch,
    DISPATCH_JOB: dispatch_schedules,
    PURGE_JOB: purge_history,
}
SCHEDULES: list[PeriodicJob] = [
    PeriodicJob(DISPATCH_JOB, DISPATCH_JOB, timedelta(minutes=1)),
    PeriodicJob(PURGE_JOB, PURGE_JOB, timedelta(days=1)),
]

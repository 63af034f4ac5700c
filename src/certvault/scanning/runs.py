"""Scan runs: created in the caller's transaction, expanded into batch jobs, counted as batches commit.

A run's life: queued -> running -> done (or cancelled / failed). The expand job resolves the targets
and enqueues one job per batch; each batch job scans its targets outside any transaction and
commits the results together with the run's progress counters and its own `done` mark.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update

from certvault.context import ServiceContext
from certvault.errors import Conflict, InvalidInput, NotFound
from certvault.jobs.models import ACTIVE, Job
from certvault.scanning.models import ScanRun
from certvault.scanning.schemas import TargetSpec
from certvault.scanning.targets import target_to_list
from certvault.tls.scanner import ScanTarget

RUN_STATES = ("queued", "running", "done", "cancelled", "failed")
FINISHED = ("done", "cancelled", "failed")
EXPAND_JOB = "scanning.expand_run"
BATCH_JOB = "scanning.scan_batch"
LOCAL_SOURCE = "cli"  # runs the caller scans itself, without jobs


@dataclass(frozen=True)
class RunPlan:
    """What the expand job needs, read in a short transaction."""

    run_id: uuid.UUID
    spec: TargetSpec
    seen: list[tuple[str, str, int, str | None]]  # inventory endpoints (host, ip, port, sni)
    names: list[str]  # DNS names on managed certificates


def progress(run: ScanRun) -> float:
    if run.status == "done":
        return 1.0
    return round(run.done_targets / run.total_targets, 4) if run.total_targets else 0.0


class RunBook:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._session = ctx.session

    def create(self, spec: TargetSpec, source: str, requested_by: str, *, status: str = "queued",
               schedule_id: uuid.UUID | None = None, scheduled_for: datetime | None = None) -> ScanRun:
        run = ScanRun(id=uuid.uuid4(), status=status, source=source, requested_by=requested_by,
                      spec=spec.model_dump(mode="json"), schedule_id=schedule_id, scheduled_for=scheduled_for)
        if status == "running":
            run.started_at = self._ctx.now()
        self._session.add(run)
        self._session.flush()
        if status == "queued":
            self._ctx.enqueue(EXPAND_JOB, {"run_id": str(run.id)}, dedup_key=f"scan-expand:{run.id}")
        return run

    def get(self, run_id: uuid.UUID, *, lock: bool = False) -> ScanRun:
        stmt = select(ScanRun).where(ScanRun.id == run_id)
        if lock:  # and re-read: counters are updated with SQL expressions
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        run = self._session.scalar(stmt)
        if run is None:
            raise NotFound(f"scan run {run_id} not found")
        return run

    def page(self, limit: int, offset: int, status: str | None = None) -> tuple[list[ScanRun], int]:
        stmt = select(ScanRun)
        if status:
            if status not in RUN_STATES:
                raise InvalidInput(f"status: choose one of {', '.join(RUN_STATES)}")
            stmt = stmt.where(ScanRun.status == status)
        total = self._session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = self._session.scalars(stmt.order_by(ScanRun.created_at.desc(), ScanRun.id).limit(limit).offset(offset))
        return list(rows), total

    def set_total(self, run: ScanRun, total: int) -> None:
        run.total_targets = total
        run.status = "running"
        run.started_at = run.started_at or self._ctx.now()

    def enqueue_batches(self, run: ScanRun, targets: list[ScanTarget], batch_size: int) -> int:
        batches = [targets[i:i + batch_size] for i in range(0, len(targets), batch_size)]
        for number, batch in enumerate(batches):
            self._ctx.enqueue(BATCH_JOB, {"run_id": str(run.id), "batch": number,
                                          "targets": [target_to_list(t) for t in batch]},
                              dedup_key=f"scan-batch:{run.id}:{number}")
        run.batches_total = len(batches)
        return len(batches)

    def count(self, run_id: uuid.UUID, done: int, failed: int, batches: int = 0) -> None:
        """Add to the progress counters atomically (batches of one run commit concurrently)."""
        self._session.execute(
            update(ScanRun).where(ScanRun.id == run_id).values(
                done_targets=ScanRun.done_targets + done, failed_targets=ScanRun.failed_targets + failed,
                batches_done=ScanRun.batches_done + batches,
            ).execution_options(synchronize_session=False)
        )

    def finish_if_complete(self, run_id: uuid.UUID) -> ScanRun:
        run = self.get(run_id, lock=True)
        if run.status == "running" and run.batches_done >= run.batches_total:
            self.finish(run, "done")
        return run

    def reap_stalled(self, created_before: datetime) -> list[ScanRun]:
        """Job-driven runs whose jobs all ended without finishing them (a batch failed for good)."""
        stmt = select(ScanRun).where(ScanRun.status.in_(("queued", "running")), ScanRun.source != LOCAL_SOURCE,
                                     ScanRun.created_at < created_before)
        reaped = []
        for run in self._session.scalars(stmt).all():
            active = select(func.count()).select_from(Job).where(Job.status.in_(ACTIVE), or_(
                Job.dedup_key == f"scan-expand:{run.id}", Job.dedup_key.like(f"scan-batch:{run.id}:%")))
            if not self._session.scalar(active):
                self.finish(run, "failed", "its jobs ended without finishing it; see the failed scanning jobs")
                reaped.append(run)
        return reaped

    def finish(self, run: ScanRun, status: str, error: str | None = None) -> None:
        run.status = status
        run.error = error
        run.finished_at = self._ctx.now()

    def cancel(self, run_id: uuid.UUID) -> ScanRun:
        run = self.get(run_id, lock=True)
        if run.status in FINISHED:
            raise Conflict(f"scan run {run_id} is already {run.status}")
        self.finish(run, "cancelled")
        return run

    @staticmethod
    def spec_of(run: ScanRun) -> TargetSpec:
        return TargetSpec.model_validate(run.spec)

    @staticmethod
    def describe(run: ScanRun) -> dict[str, Any]:
        spec = run.spec or {}
        hosts = list(spec.get("hosts") or [])
        text = ", ".join(hosts[:3]) + (f" and {len(hosts) - 3} more" if len(hosts) > 3 else "")
        if spec.get("inventory"):
            text = "inventory" + (f", {text}" if text else "")
        return {"description": text or "nothing", "progress": progress(run)}

"""The scanning service: every operation the API, web UI, CLI and jobs call, behind one RBAC gate.

Reads need SCANS_READ, starting scans and changing schedules need SCANS_RUN. Scan starts and
schedule changes are audited. Network work (resolving, scanning) never happens here: callers do it
outside the transaction (see jobs.py and cli/scans.py) and hand the results in.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from certvault.auth.rbac import Actor, Permission, require
from certvault.context import ServiceContext
from certvault.errors import InvalidInput, NotFound
from certvault.scanning.engine import EngineSettings, unresolved_result
from certvault.scanning.findings import describe, weak_cipher_list
from certvault.scanning.models import ScanEndpoint, ScanEvent, ScanResult, ScanRun, ScanSchedule
from certvault.scanning.queries import EndpointPage, EndpointQuery, ScanQueries
from certvault.scanning.results import ResultRecorder
from certvault.scanning.runs import FINISHED, LOCAL_SOURCE, RunBook, RunPlan
from certvault.scanning.schedules import ScheduleBook, describe_when
from certvault.scanning.schemas import ScheduleIn, ScheduleUpdate, TargetSpec
from certvault.scanning.targets import Unresolved, check_size, parse_target
from certvault.tls.scanner import ScanTarget

HISTORY_DAYS = 400  # a year of weekly or daily results, plus margin


class ScanService:
    def __init__(self, ctx: ServiceContext, inventory: Any = None) -> None:
        self._ctx = ctx
        self._inventory = inventory  # CertificateService: endpoints(), managed_names(), record_seen_many()
        self._runs = RunBook(ctx)
        self._schedules = ScheduleBook(ctx)
        self._queries = ScanQueries(ctx.session)

    # ---- starting runs ---------------------------------------------------------------------------
    def start_run(self, actor: Actor, spec: TargetSpec, source: str = "api") -> ScanRun:
        """Queue a scan; a job expands it into batches. Returns the run (progress via get_run)."""
        require(actor, Permission.SCANS_RUN)
        _check_not_empty(spec)
        check_size([parse_target(h) for h in spec.hosts], spec.ports)
        run = self._runs.create(spec, source, actor.name)
        self._audit_start(actor, run, spec)
        return run

    def begin_local_run(self, actor: Actor, spec: TargetSpec, total: int) -> ScanRun:
        """A run the caller scans itself (the CLI); it stores results with store_results."""
        require(actor, Permission.SCANS_RUN)
        run = self._runs.create(spec, LOCAL_SOURCE, actor.name, status="running")
        run.total_targets = total
        self._audit_start(actor, run, spec)
        return run

    def finish_local_run(self, actor: Actor, run_id: uuid.UUID, error: str | None = None) -> ScanRun:
        require(actor, Permission.SCANS_RUN)
        run = self._runs.get(run_id, lock=True)
        if run.status not in FINISHED:
            self._runs.finish(run, "failed" if error else "done", error)
        return run

    def cancel_run(self, actor: Actor, run_id: uuid.UUID) -> ScanRun:
        require(actor, Permission.SCANS_RUN)
        run = self._runs.cancel(run_id)
        self._ctx.audit.record(actor, "scan.cancel", target_type="scan_run", target_id=run.id)
        return run

    def _audit_start(self, actor: Actor, run: ScanRun, spec: TargetSpec) -> None:
        self._ctx.audit.record(actor, "scan.start", target_type="scan_run", target_id=run.id, details={
            "source": run.source, "hosts": spec.hosts[:20], "host_count": len(spec.hosts), "ports": spec.ports[:20],
            "inventory": spec.inventory,
        })

    # ---- job steps -------------------------------------------------------------------------------
    def plan_run(self, actor: Actor, run_id: uuid.UUID) -> RunPlan | None:
        """What the expand job must resolve; None when the run no longer wants expanding."""
        require(actor, Permission.SCANS_RUN)
        run = self._runs.get(run_id)
        if run.status != "queued":
            return None
        spec = self._runs.spec_of(run)
        seen: list[tuple[str, str, int, str | None]] = []
        names: list[str] = []
        if spec.inventory:
            seen, names = self.inventory_targets(actor)
        return RunPlan(run.id, spec, seen, names)

    def inventory_targets(self, actor: Actor) -> tuple[list[tuple[str, str, int, str | None]], list[str]]:
        """Every (host, ip, port, sni) the inventory saw a certificate at, and the names on managed
        certificates (resolved later to all their addresses)."""
        require(actor, Permission.SCANS_RUN)
        if self._inventory is None:
            return [], []
        seen = [(e.host or e.ip, e.ip, int(e.port), e.sni) for e in self._inventory.endpoints(actor)]
        return seen, [n for n in self._managed_names(actor) if not n.startswith("*.")]

    def _managed_names(self, actor: Actor) -> list[str]:
        """DNS names on managed (active) certificates (one query); the caller skips wildcards."""
        return [n for n in self._inventory.managed_names(actor) if _is_dns_name(n)]

    def schedule_batches(self, actor: Actor, run_id: uuid.UUID, targets: list[ScanTarget],
                         unresolved: Iterable[Unresolved]) -> ScanRun | None:
        """Store results for names that did not resolve and enqueue one job per batch of targets."""
        require(actor, Permission.SCANS_RUN)
        run = self._runs.get(run_id, lock=True)
        if run.status != "queued":
            return None
        failed = list(unresolved)
        self._runs.set_total(run, len(targets) + len(failed))
        if failed:
            self.store_results(actor, run.id, [unresolved_result(item) for item in failed])
        if self._runs.enqueue_batches(run, targets, self._runs.spec_of(run).batch_size) == 0:
            self._runs.finish(run, "done")
        return run

    def batch_settings(self, actor: Actor, run_id: uuid.UUID) -> EngineSettings | None:
        """The engine settings of a run, or None when its batches should not run (cancelled, gone)."""
        require(actor, Permission.SCANS_RUN)
        try:
            run = self._runs.get(run_id)
        except NotFound:
            return None
        return EngineSettings.from_spec(run.spec) if run.status == "running" else None

    def store_results(self, actor: Actor, run_id: uuid.UUID | None, results: Iterable[dict[str, Any]],
                      *, batch_done: bool = False) -> list[ScanResult]:
        """Store results (history, findings, change events, inventory) and count them on the run."""
        require(actor, Permission.SCANS_RUN)
        recorder = ResultRecorder(self._ctx.session, self._record_seen(actor), self._ctx.events)
        rows = recorder.store_many(actor, list(results), run_id)
        if run_id is not None:
            failed = sum(1 for row in rows if not row.reachable)
            self._runs.count(run_id, len(rows), failed, 1 if batch_done else 0)
            if batch_done:
                self._runs.finish_if_complete(run_id)
        return rows

    def _record_seen(self, actor: Actor) -> Any:
        if self._inventory is None or not hasattr(self._inventory, "record_seen_many"):
            return None
        scanner = Actor.system(f"scanner:{actor.name}", via=actor.via)
        return lambda observations: self._inventory.record_seen_many(scanner, observations)

    def reap_stalled_runs(self, actor: Actor) -> list[ScanRun]:
        """Mark failed the runs whose batch jobs failed for good, so none stays 'running' forever."""
        require(actor, Permission.SCANS_RUN)
        return self._runs.reap_stalled(self._ctx.now() - timedelta(minutes=2))

    # ---- reading ---------------------------------------------------------------------------------
    def get_run(self, actor: Actor, run_id: uuid.UUID) -> ScanRun:
        require(actor, Permission.SCANS_READ)
        return self._runs.get(run_id)

    def list_runs(self, actor: Actor, limit: int = 50, offset: int = 0,
                  status: str | None = None) -> tuple[list[ScanRun], int]:
        require(actor, Permission.SCANS_READ)
        return self._runs.page(limit, offset, status)

    def run_view(self, run: ScanRun) -> dict[str, Any]:
        """The run with its description and progress fraction (for RunOut)."""
        return {**{c: getattr(run, c) for c in (
            "id", "status", "source", "requested_by", "schedule_id", "total_targets", "done_targets",
            "failed_targets", "batches_total", "batches_done", "error", "created_at", "started_at",
            "finished_at")}, **RunBook.describe(run)}

    def run_results(self, actor: Actor, run_id: uuid.UUID, limit: int = 500) -> list[tuple[ScanResult, ScanEndpoint]]:
        """The results a run stored, with their endpoints."""
        require(actor, Permission.SCANS_READ)
        self._runs.get(run_id)
        return self._queries.run_results(run_id, limit)

    def list_endpoints(self, actor: Actor, query: EndpointQuery) -> tuple[list[ScanEndpoint], int]:
        require(actor, Permission.SCANS_READ)
        return self._queries.endpoints(query, self._ctx.now())

    def endpoint_page(self, actor: Actor, query: EndpointQuery) -> EndpointPage:
        """The endpoint list by cursor (query.cursor), as the web page shows it."""
        require(actor, Permission.SCANS_READ)
        return self._queries.endpoint_page(query, self._ctx.now())

    def get_endpoint(self, actor: Actor, endpoint_id: uuid.UUID) -> ScanEndpoint:
        require(actor, Permission.SCANS_READ)
        return self._queries.endpoint(endpoint_id)

    def find_endpoints(self, actor: Actor, host: str, port: int | None = None) -> list[ScanEndpoint]:
        require(actor, Permission.SCANS_READ)
        return self._queries.find(host, port)

    def history(self, actor: Actor, endpoint_id: uuid.UUID, limit: int = 100) -> list[ScanResult]:
        require(actor, Permission.SCANS_READ)
        self._queries.endpoint(endpoint_id)
        return self._queries.history(endpoint_id, limit)

    def latest_result(self, actor: Actor, endpoint_id: uuid.UUID) -> ScanResult | None:
        require(actor, Permission.SCANS_READ)
        endpoint = self._queries.endpoint(endpoint_id)
        return self._queries.result(endpoint.latest_result_id) if endpoint.latest_result_id else None

    def get_result(self, actor: Actor, result_id: uuid.UUID) -> ScanResult:
        require(actor, Permission.SCANS_READ)
        return self._queries.result(result_id)

    def weak_ciphers(self, actor: Actor, endpoint_id: uuid.UUID) -> list[dict[str, Any]]:
        """The weak suites the endpoint accepted at its last reachable scan, with reasons (for tickets)."""
        require(actor, Permission.SCANS_READ)
        endpoint = self._queries.endpoint(endpoint_id)
        if endpoint.last_good_result_id is None:
            return []
        return weak_cipher_list(self._queries.result(endpoint.last_good_result_id).result)

    def finding_details(self, endpoint: ScanEndpoint) -> list[dict[str, str]]:
        return [{"name": name, "description": describe(name)} for name in endpoint.findings or []]

    def purge_history(self, actor: Actor, keep_days: int = HISTORY_DAYS, limit: int = 5000) -> int:
        """Drop results older than keep_days (each endpoint keeps its latest and latest reachable one).
        Events stay; their result link becomes empty."""
        require(actor, Permission.SCANS_RUN)
        if keep_days < 1:
            raise InvalidInput("keep_days: keep at least one day of history")
        return self._queries.purge_results(self._ctx.now() - timedelta(days=keep_days), limit)

    def newest_scan(self, actor: Actor) -> datetime | None:
        require(actor, Permission.SCANS_READ)
        return self._queries.newest_scan()

    def grade_counts(self, actor: Actor) -> dict[str, int]:
        require(actor, Permission.SCANS_READ)
        return self._queries.grade_counts()

    # ---- change history (consumers read the same changes from the domain-event outbox) -------------
    def list_events(self, actor: Actor, *, endpoint_id: uuid.UUID | None = None, type: str | None = None,
                    limit: int = 50, offset: int = 0) -> tuple[list[ScanEvent], int]:
        require(actor, Permission.SCANS_READ)
        return self._queries.events(endpoint_id=endpoint_id, type=type, limit=limit, offset=offset)

    # ---- schedules -------------------------------------------------------------------------------
    def create_schedule(self, actor: Actor, data: ScheduleIn) -> ScanSchedule:
        require(actor, Permission.SCANS_RUN)
        schedule = self._schedules.create(data, actor.name)
        self._ctx.audit.record(actor, "scan.schedule.create", target_type="scan_schedule", target_id=schedule.id,
                               details={"name": schedule.name, "when": describe_when(schedule),
                                        "hosts": data.targets.hosts[:20], "inventory": data.targets.inventory})
        return schedule

    def list_schedules(self, actor: Actor) -> list[ScanSchedule]:
        require(actor, Permission.SCANS_READ)
        return self._schedules.all()

    def get_schedule(self, actor: Actor, ref: uuid.UUID | str) -> ScanSchedule:
        require(actor, Permission.SCANS_READ)
        return self._schedules.get(ref)

    def update_schedule(self, actor: Actor, ref: uuid.UUID | str, data: ScheduleUpdate) -> ScanSchedule:
        require(actor, Permission.SCANS_RUN)
        schedule, changed = self._schedules.update(ref, data)
        self._ctx.audit.record(actor, "scan.schedule.update", target_type="scan_schedule", target_id=schedule.id,
                               details={"name": schedule.name, "changed": changed, "when": describe_when(schedule),
                                        "enabled": schedule.enabled})
        return schedule

    def delete_schedule(self, actor: Actor, ref: uuid.UUID | str) -> None:
        require(actor, Permission.SCANS_RUN)
        schedule = self._schedules.delete(ref)
        self._ctx.audit.record(actor, "scan.schedule.delete", target_type="scan_schedule", target_id=schedule.id,
                               details={"name": schedule.name})

    def dispatch_due_schedules(self, actor: Actor, now: datetime | None = None) -> list[ScanRun]:
        """Start the runs of every due schedule (the periodic dispatcher job calls this)."""
        require(actor, Permission.SCANS_RUN)
        runs = self._schedules.dispatch_due(self._runs, now or self._ctx.now())
        for run in runs:
            self._audit_start(actor, run, self._runs.spec_of(run))
        return runs


def _check_not_empty(spec: TargetSpec) -> None:
    if not spec.hosts and not spec.inventory:
        raise InvalidInput("nothing to scan: give hosts or set inventory")


def _is_dns_name(name: str) -> bool:
    try:
        parse_target(name)
    except InvalidInput:
        return False
    return "/" not in name and ":" not in name

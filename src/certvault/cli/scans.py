"""`certvault scan TARGET[:PORT]`, `certvault scan --targets FILE`, and scan history/schedule/runs/endpoints.

`certvault scan` is a group whose default command scans: anything that is not a subcommand name
(`history`, `schedule`, `runs`, `endpoints`) is taken as a target.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from certvault.auth.rbac import Actor
from certvault.cli.common import cli_actor, console, err_console, fail, print_json, print_json_line, print_table
from certvault.cli.common import services as open_services
from certvault.errors import InvalidInput
from certvault.scanning import engine
from certvault.scanning.findings import is_reachable
from certvault.scanning.queries import EndpointQuery
from certvault.scanning.report import text_report
from certvault.scanning.schedules import describe_when
from certvault.scanning.schemas import EndpointOut, ResultSummary, RunOut, ScheduleIn, ScheduleOut, TargetSpec
from certvault.scanning.targets import (
    TargetEntry,
    check_size,
    dedupe,
    expand,
    parse_ports,
    parse_target,
    parse_targets_text,
    resolve_names,
)
from certvault.tls.scanner import ScanTarget

SCAN_COMMAND = "run"
STORE_EVERY = 100  # results per transaction while scanning from the CLI


class ScanGroup(TyperGroup):
    """Route `scan TARGET ...` and `scan --targets F` to the hidden scanning command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # click's Context, or typer's own copy of it
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [SCAN_COMMAND, *args]
        return super().parse_args(ctx, args)


scan_app = typer.Typer(
    cls=ScanGroup, no_args_is_help=True, subcommand_metavar="TARGET[:PORT] [OPTIONS] | --targets FILE | COMMAND",
    help="Scan TLS endpoints: `certvault scan TARGET[:PORT] [--json]` or `certvault scan --targets FILE`. "
         "TARGET is a name, an IP, [IPv6]:port or a CIDR range. Results are stored with history unless --no-store. "
         "Scan options (--sni, --ca-file, --starttls, --ports, --concurrency, --json, ...): certvault scan run --help",
)
schedule_app = typer.Typer(help="Scan schedules (daily or weekly at a time, UTC).", no_args_is_help=True)
scan_app.add_typer(schedule_app, name="schedule")


def register(app: typer.Typer) -> None:
    app.add_typer(scan_app, name="scan")


@scan_app.command(SCAN_COMMAND, hidden=True)
def scan(
    ctx: typer.Context,
    target: str | None = typer.Argument(None, metavar="TARGET[:PORT]", help="name, IP, [IPv6]:port or CIDR"),
    targets_file: Path | None = typer.Option(None, "--targets", help="file with one target per line"),
    ports: str = typer.Option("443", "--ports", help="ports for targets without one, e.g. 443,8443"),
    sni: str | None = typer.Option(None, "--sni", help="server name to send"),
    ca_file: Path | None = typer.Option(None, "--ca-file", help="extra trust anchors (PEM)"),
    starttls: str | None = typer.Option(None, "--starttls", help="smtp|imap|pop3|ftp|ldap|postgres|none"),
    concurrency: int = typer.Option(32, "--concurrency", min=1, max=1024, help="endpoints scanned at once"),
    timeout: float = typer.Option(5.0, "--timeout", min=0.5, max=60, help="seconds per network step"),
    inventory: bool = typer.Option(False, "--inventory", help="also scan where the inventory saw certificates"),
    no_store: bool = typer.Option(False, "--no-store", help="print only; keep nothing"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per result, one per line"),
) -> None:
    """Scan endpoints and print a report (or JSON lines)."""
    entries = _entries(target, targets_file)
    if not entries and not inventory:
        fail("give a TARGET, --targets FILE or --inventory")
    port_list = parse_ports([ports])
    spec = TargetSpec(hosts=[_entry_text(e) for e in entries], ports=port_list,
                      inventory=inventory, sni=sni, starttls=starttls, timeout=timeout, concurrency=concurrency)
    check_size(entries, port_list)
    if ca_file is not None and not ca_file.is_file():
        fail(f"--ca-file {ca_file}: no such file")
    actor = cli_actor()
    scan_targets, failed = asyncio.run(expand(entries, port_list, spec.sni, spec.starttls))
    if inventory:
        more, missing = _inventory_targets(ctx, actor, spec)
        scan_targets, failed = dedupe(scan_targets + more), failed + missing
    results = [engine.unresolved_result(item) for item in failed]
    one_host = target is not None and entries[0].network is None and not inventory
    sink = _ResultSink(ctx, actor, spec, len(scan_targets) + len(results), store=not no_store, as_json=as_json,
                       detailed=one_host)
    with open_services(ctx) as svc:  # certvault trusts its own internal CA, as its server's scans do
        own_root = svc.pki.root_pem()
    settings = engine.EngineSettings(timeout=timeout, concurrency=concurrency).trusting(own_root)
    with sink:
        for result in results:
            sink.add(result)
        with engine.engine_options(settings, str(ca_file) if ca_file else None) as options:
            engine.scan(scan_targets, options, concurrency, sink.add)


def _entries(target: str | None, targets_file: Path | None) -> list[TargetEntry]:
    if target and targets_file:
        fail("give either TARGET or --targets, not both")
    if targets_file is not None:
        try:
            text = targets_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"--targets {targets_file}: {exc}")
        entries = parse_targets_text(text, str(targets_file))
        if not entries:
            fail(f"--targets {targets_file}: no targets in the file")
        return entries
    return [parse_target(target)] if target else []


def _inventory_targets(ctx: typer.Context, actor: Actor, spec: TargetSpec) -> tuple[list[ScanTarget], list[Any]]:
    with open_services(ctx) as svc:
        seen, names = svc.scanning.inventory_targets(actor)
    targets = [ScanTarget(host, ip, port, sni, spec.starttls) for host, ip, port, sni in seen]
    resolved, missing = asyncio.run(resolve_names([(n, p) for n in names for p in spec.ports], spec.sni,
                                                  spec.starttls))
    return targets + resolved, missing


def _entry_text(entry: TargetEntry) -> str:
    host = f"[{entry.host}]" if ":" in entry.host and entry.port else entry.host
    return f"{host}:{entry.port}" if entry.port else host


class _ResultSink:
    """Prints each result as it arrives, shows progress, and stores results in chunks."""

    def __init__(self, ctx: typer.Context, actor: Actor, spec: TargetSpec, total: int, *, store: bool,
                 as_json: bool, detailed: bool) -> None:
        self._ctx, self._actor, self._spec, self._total = ctx, actor, spec, total
        self._store, self._json, self._detailed = store, as_json, detailed
        self._pending: list[dict[str, Any]] = []
        self._summary: list[dict[str, Any]] = []
        self._run_id: uuid.UUID | None = None
        self._last_flush = time.monotonic()
        self._progress: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> _ResultSink:
        if self._store:
            with open_services(self._ctx) as svc:
                self._run_id = svc.scanning.begin_local_run(self._actor, self._spec, self._total).id
        if not self._json and not self._detailed:  # many targets: a progress bar, then a summary table
            self._progress = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                      console=err_console.rich, transient=True)
            self._progress.start()
            self._task = self._progress.add_task("scan", total=self._total)
        return self

    def add(self, result: dict[str, Any]) -> None:
        if self._json:
            print_json_line(result)
        elif self._progress is None:
            _print_report(result)
        else:
            self._summary.append(result)
            self._progress.advance(self._task)
        if self._store:
            self._pending.append(result)
            if len(self._pending) >= STORE_EVERY or time.monotonic() - self._last_flush > 2:
                self._flush()

    def _flush(self) -> None:
        if self._pending:
            with open_services(self._ctx) as svc:
                svc.scanning.store_results(self._actor, self._run_id, self._pending)
            self._pending = []
        self._last_flush = time.monotonic()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
        if self._store:
            self._flush()
            with open_services(self._ctx) as svc:
                svc.scanning.finish_local_run(self._actor, self._run_id,  # type: ignore[arg-type]
                                              error=f"interrupted: {exc_type.__name__}" if exc_type else None)
        if self._summary:
            _print_summary(self._summary)


def _print_report(result: dict[str, Any]) -> None:
    for number, line in enumerate(text_report(result)):
        style = "bold" if number == 0 else None
        console.print(line, style=style, markup=False, highlight=False, soft_wrap=True)


def _print_summary(results: list[dict[str, Any]]) -> None:
    rows = []
    for r in sorted(results, key=lambda r: (str(r["target"].get("host")), r["target"].get("port") or 0)):
        t = r["target"]
        findings = [k for k, v in (r.get("vulnerabilities") or {}).items() if v == "vulnerable"]
        rows.append([t.get("host"), t.get("ip") or "-", t.get("port"),
                     (r.get("grade") or "-") if is_reachable(r) else "unreachable",
                     ", ".join(findings) or "-", "; ".join(r.get("errors") or [])[:80]])
    print_table(["host", "ip", "port", "grade", "vulnerable to", "errors"], rows)
    reachable = sum(1 for r in results if is_reachable(r))
    console.print(f"{len(results)} results, {len(results) - reachable} unreachable", highlight=False)


# ---- history, runs, endpoints ----------------------------------------------------------------------
@scan_app.command("history")
def history(
    ctx: typer.Context, target: str = typer.Argument(..., metavar="HOST[:PORT]"),
    limit: int = typer.Option(20, "--limit", min=1, max=1000, help="results per endpoint"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Earlier results of an endpoint (every address and SNI of HOST, on PORT if given)."""
    host, port = _host_port(target)
    with open_services(ctx) as svc:
        actor = cli_actor()
        endpoints = svc.scanning.find_endpoints(actor, host, port)
        data = [(EndpointOut.model_validate(e),
                 [ResultSummary.model_validate(r) for r in svc.scanning.history(actor, e.id, limit)])
                for e in endpoints]
    if as_json:
        print_json([{"endpoint": e, "results": results} for e, results in data])
        return
    if not data:
        fail(f"no scan results for {target}")
    for e, results in data:
        rows = [[r.scanned_at.strftime("%Y-%m-%d %H:%M:%S"), r.grade or ("-" if r.reachable else "unreachable"),
                 ", ".join(f.split(":")[-1] for f in r.findings) or "-", (r.cert_fingerprint or "")[:16],
                 r.duration_ms]
                for r in results]
        print_table(["scanned (UTC)", "grade", "findings", "certificate", "ms"], rows,
                    title=f"{e.host}:{e.port} at {e.ip or 'unresolved'}" + (f" SNI {e.sni}" if e.sni else ""))


def _host_port(text: str) -> tuple[str, int | None]:
    entry = parse_target(text)
    if entry.network is not None:
        raise InvalidInput(f"{text!r}: give one host, not a range")
    return entry.host, entry.port


@scan_app.command("runs")
def runs(ctx: typer.Context, limit: int = typer.Option(20, "--limit", min=1, max=500),
         as_json: bool = typer.Option(False, "--json")) -> None:
    """Recent scan runs with their progress."""
    with open_services(ctx) as svc:
        rows, _ = svc.scanning.list_runs(cli_actor(), limit=limit)
        views = [RunOut.model_validate(svc.scanning.run_view(r)) for r in rows]
    if as_json:
        print_json(views)
        return
    print_table(["id", "created", "targets", "status", "done", "unreachable"],
                [[str(v.id)[:8], v.created_at.strftime("%Y-%m-%d %H:%M"), v.description, v.status,
                  f"{v.done_targets}/{v.total_targets}", v.failed_targets] for v in views])


@scan_app.command("endpoints")
def endpoints(
    ctx: typer.Context, grade: str | None = typer.Option(None, "--grade"),
    vulnerable_to: str | None = typer.Option(None, "--vulnerable-to", help="heartbleed, TLSv1.0, expired, ..."),
    expiring: int | None = typer.Option(None, "--expiring", min=0, help="certificate expires within N days"),
    limit: int = typer.Option(100, "--limit", min=1, max=500), as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Scanned endpoints with their latest grade and findings."""
    query = EndpointQuery(grade=grade, vulnerable_to=vulnerable_to, expiring_within_days=expiring, limit=limit)
    with open_services(ctx) as svc:
        rows, total = svc.scanning.list_endpoints(cli_actor(), query)
        items = [EndpointOut.model_validate(r) for r in rows]
    if as_json:
        print_json({"items": items, "total": total})
        return
    print_table(["host", "ip", "port", "grade", "status", "findings", "cert expires"],
                [[e.host, e.ip, e.port, e.grade or "-", e.status, ", ".join(e.findings) or "-",
                  e.cert_not_after.date() if e.cert_not_after else "-"] for e in items], title=f"{total} endpoints")


# ---- schedules -------------------------------------------------------------------------------------
@schedule_app.command("add")
def schedule_add(
    ctx: typer.Context, name: str = typer.Argument(...),
    at: str = typer.Option(..., "--at", help="time of day, HH:MM UTC"),
    weekly: str | None = typer.Option(None, "--weekly", help="run weekly on this day (default: daily)"),
    host: list[str] = typer.Option([], "--host", help="target (repeatable): name, IP, CIDR, host:port"),
    targets_file: Path | None = typer.Option(None, "--targets", help="file with one target per line"),
    ports: str = typer.Option("443", "--ports"),
    inventory: bool = typer.Option(False, "--inventory", help="scan the inventory's endpoints"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Add a schedule: daily (or --weekly DAY) at --at HH:MM UTC."""
    hosts = list(host)
    if targets_file is not None:
        hosts += [_entry_text(e) for e in _entries(None, targets_file)]
    spec = TargetSpec(hosts=hosts, ports=parse_ports([ports]), inventory=inventory)
    data = ScheduleIn(name=name, frequency="weekly" if weekly else "daily", time=at, weekday=weekly, targets=spec)
    with open_services(ctx) as svc:
        schedule = ScheduleOut.model_validate(svc.scanning.create_schedule(cli_actor(), data))
        when = describe_when(svc.scanning.get_schedule(cli_actor(), schedule.id))
    if as_json:
        print_json(schedule)
    else:
        console.print(f"schedule {schedule.name} added: {when}; next run {schedule.next_run_at:%Y-%m-%d %H:%M} UTC",
                      highlight=False)




@schedule_app.command("list")
def schedule_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Scan schedules with their next run."""
    with open_services(ctx) as svc:
        rows = svc.scanning.list_schedules(cli_actor())
        items = [(ScheduleOut.model_validate(s), describe_when(s)) for s in rows]
    if as_json:
        print_json([s for s, _ in items])
        return
    print_table(["name", "when", "targets", "next run (UTC)", "enabled"],
                [[s.name, when, _spec_text(s.spec), s.next_run_at.strftime("%Y-%m-%d %H:%M"),
                  "yes" if s.enabled else "no"] for s, when in items])


def _spec_text(spec: dict[str, Any]) -> str:
    hosts = list(spec.get("hosts") or [])
    text = ", ".join(hosts[:5]) + (f" and {len(hosts) - 5} more" if len(hosts) > 5 else "")
    return ("inventory " if spec.get("inventory") else "") + text


@schedule_app.command("remove")
def schedule_remove(ctx: typer.Context, name: str = typer.Argument(..., help="schedule name or id")) -> None:
    """Delete a schedule (its past runs and results stay)."""
    with open_services(ctx) as svc:
        svc.scanning.delete_schedule(cli_actor(), name)
    console.print(f"schedule {name} removed", highlight=False)

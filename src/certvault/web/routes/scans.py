"""Web pages for scanning: endpoints with grades and flags, endpoint detail with history, runs with
progress, a "scan now" form, and schedules."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from certvault.api.deps import Offset, ServicesDep
from certvault.auth.rbac import Permission
from certvault.container import Services
from certvault.errors import CertvaultError, InvalidInput
from certvault.scanning.findings import all_finding_names, describe, weak_cipher_list
from certvault.scanning.queries import GRADES, EndpointQuery
from certvault.scanning.schedules import WEEKDAYS, describe_when
from certvault.scanning.schemas import ScheduleIn, ScheduleUpdate, TargetSpec
from certvault.scanning.targets import parse_ports, parse_target
from certvault.web.deps import WebUser, check_csrf, page, render
from certvault.web.filters import PAGE_SIZES, plain_when
from certvault.web.paging import Pager, pager
from certvault.web.tables import csv_response, walk_pages

router = APIRouter(include_in_schema=False)
PAGE = 50
GRADE_COUNT_SECONDS = 60.0  # the grade counts above the list are at most this old (or a scan newer)
Reader = Annotated[WebUser, Depends(page(Permission.SCANS_READ))]
Poster = Annotated[WebUser, Depends(check_csrf)]


def _templates() -> Any:  # imported lazily: web.app imports this module
    from certvault.web.app import templates

    return templates


def _context() -> dict[str, Any]:
    return {"grades": GRADES, "finding_names": all_finding_names(), "describe": describe, "weekdays": WEEKDAYS,
            "describe_when": describe_when, "describe_targets": describe_targets}


def describe_targets(hosts: list[str], ports: list[int], limit: int = 5) -> str:
    """A schedule's targets as scanned: "127.0.0.1:18443" keeps its own port; the ports apply to the others
    ("www.example.com, 192.0.2.0/28 on ports 443, 8443")."""
    own: list[str] = []
    others: list[str] = []
    for text in hosts:
        try:
            (own if parse_target(text).port is not None else others).append(text)
        except CertvaultError:
            others.append(text)
    own, others = own[:limit], others[:max(0, limit - len(own))]
    more = " …" if len(hosts) > len(own) + len(others) else ""
    on_ports = f" on port{'s' if len(ports) != 1 else ''} {', '.join(str(p) for p in ports)}" if others else ""
    return "; ".join(part for part in (", ".join(own), ", ".join(others) + on_ports) if part) + more


@router.get("/scans")
def endpoints_page(
    request: Request, svc: ServicesDep, user: Reader, grade: str = "", vulnerable_to: str = "",
    expiring: str = "", host: str = "", status: str = "", sort: str = "host",
    size: int = PAGE, cursor: str = "",
) -> Response:
    """Pages go by cursor (db/keyset.py), never OFFSET."""
    filters = {"grade": grade, "vulnerable_to": vulnerable_to, "expiring": expiring, "host": host,
               "status": status, "sort": sort}
    return _endpoints(request, svc, user, filters, cursor, size=size if size in PAGE_SIZES else PAGE)


def _endpoint_query(filters: dict[str, str], limit: int, cursor: str | None) -> EndpointQuery:
    days = int(filters["expiring"]) if filters["expiring"].strip() else None
    return EndpointQuery(grade=filters["grade"] or None, vulnerable_to=filters["vulnerable_to"] or None,
                         expiring_within_days=days, host=filters["host"] or None, status=filters["status"] or None,
                         sort=filters["sort"] or "host", limit=limit, cursor=cursor or None)


@router.get("/scans/endpoints.csv")
def endpoints_csv(svc: ServicesDep, user: Reader, grade: str = "", vulnerable_to: str = "", expiring: str = "",
                  host: str = "", status: str = "", sort: str = "host") -> Response:
    """The filtered endpoints in the page's order as CSV (at most CSV_ROWS rows)."""
    filters = {"grade": grade, "vulnerable_to": vulnerable_to, "expiring": expiring, "host": host,
               "status": status, "sort": sort}
    endpoints = walk_pages(lambda cursor: svc.scanning.endpoint_page(user.actor, _endpoint_query(filters, 500, cursor)))
    out = [[e.host, e.port, e.ip or "", e.sni or "", e.grade or "", e.status, " ".join(e.protocols or []),
            " ".join(e.findings or []), plain_when(e.cert_not_after), plain_when(e.last_scanned_at)] for e in endpoints]
    return csv_response("endpoints.csv", ["host", "port", "ip", "sni", "grade", "status", "protocols", "findings",
                                          "certificate_expires", "last_scanned"], out)


def _endpoints(request: Request, svc: Services, user: WebUser, filters: dict[str, str], cursor: str | None,
               status_code: int = 200, size: int = PAGE, **extra: Any) -> Response:
    error = extra.pop("error_message", None)
    try:
        found = svc.scanning.endpoint_page(user.actor, _endpoint_query(filters, size, cursor))
        rows, total, links = found.items, found.total, pager(found, size, "endpoints")
    except (CertvaultError, ValueError) as exc:
        error = getattr(exc, "message", None) or "expiring: give a number of days"
        rows, total, status_code, links = [], 0, 400, Pager("0 endpoints", size)
    runs, _ = svc.scanning.list_runs(user.actor, limit=5)
    return render(_templates(), request, "scans/endpoints.html", user, status_code=status_code, rows=rows,
                  total=total, pager=links, page_size=size, filters=filters, error_message=error,
                  counts=_grade_counts(request, svc, user), runs=[svc.scanning.run_view(r) for r in runs],
                  **_context(), **extra)


def _grade_counts(request: Request, svc: Services, user: WebUser) -> dict[str, int]:
    """Endpoints per grade, kept per server process until an endpoint is scanned again (the newest scan time
    moves: one index lookup) or GRADE_COUNT_SECONDS pass; counting 100,000 rows costs more than the page."""
    newest = svc.scanning.newest_scan(user.actor)
    cached = getattr(request.app.state, "endpoint_grade_counts", None)
    if cached is not None and cached[0] > time.monotonic() and cached[1] == newest:
        return dict(cached[2])
    counts = svc.scanning.grade_counts(user.actor)
    request.app.state.endpoint_grade_counts = (time.monotonic() + GRADE_COUNT_SECONDS, newest, counts)
    return dict(counts)


@router.post("/scans/run")
def scan_now(
    request: Request, svc: ServicesDep, user: Poster, hosts: Annotated[str, Form()] = "",
    ports: Annotated[str, Form()] = "443", inventory: Annotated[str, Form()] = "",
    sni: Annotated[str, Form()] = "", ca_pem: Annotated[str, Form()] = "",
) -> Response:
    try:
        spec = TargetSpec(hosts=hosts.replace(",", " ").split(), ports=parse_ports([ports]),
                          inventory=bool(inventory), sni=sni.strip() or None, ca_pem=ca_pem or None)
        run = svc.scanning.start_run(user.actor, spec, source="web")
    except CertvaultError as exc:
        filters = dict.fromkeys(("grade", "vulnerable_to", "expiring", "host", "status"), "") | {"sort": "host"}
        return _endpoints(request, svc, user, filters, None, status_code=exc.status_code, error_message=exc.message,
                          form={"hosts": hosts, "ports": ports, "inventory": bool(inventory), "sni": sni,
                                "ca_pem": ca_pem})
    return RedirectResponse(f"/scans/runs/{run.id}", status_code=303)


@router.get("/scans/endpoints/{endpoint_id}")
def endpoint_page(request: Request, endpoint_id: uuid.UUID, svc: ServicesDep, user: Reader,
                  result: uuid.UUID | None = None) -> Response:
    endpoint = svc.scanning.get_endpoint(user.actor, endpoint_id)
    shown = svc.scanning.get_result(user.actor, result) if result else svc.scanning.latest_result(
        user.actor, endpoint_id)
    if shown is not None and shown.endpoint_id != endpoint.id:
        raise InvalidInput("that result belongs to another endpoint")
    events, _ = svc.scanning.list_events(user.actor, endpoint_id=endpoint_id, limit=100)
    inventory_id = (svc.certificates.entry_for_fingerprint(user.actor, endpoint.cert_fingerprint)
                    if endpoint.cert_fingerprint and user.can(Permission.CERTIFICATES_READ) else None)
    return render(_templates(), request, "scans/endpoint.html", user, endpoint=endpoint, shown=shown,
                  inventory_id=inventory_id,
                  result=shown.result if shown else None, history=svc.scanning.history(user.actor, endpoint_id),
                  events=events, weak=weak_cipher_list(shown.result) if shown else [], **_context())


@router.get("/scans/runs")
def runs_page(request: Request, svc: ServicesDep, user: Reader,
              offset: Offset = 0) -> Response:
    rows, total = svc.scanning.list_runs(user.actor, limit=PAGE, offset=offset)
    views = [svc.scanning.run_view(r) for r in rows]
    active = any(v["status"] in ("queued", "running") for v in views)
    return render(_templates(), request, "scans/runs.html", user, runs=views, total=total, offset=offset,
                  page_size=PAGE, refresh=active)


@router.get("/scans/runs/{run_id}")
def run_page(request: Request, run_id: uuid.UUID, svc: ServicesDep, user: Reader) -> Response:
    run = svc.scanning.get_run(user.actor, run_id)
    view = svc.scanning.run_view(run)
    return render(_templates(), request, "scans/run.html", user, run=view, spec=run.spec,
                  results=svc.scanning.run_results(user.actor, run_id),
                  refresh=view["status"] in ("queued", "running"), **_context())


@router.get("/scans/schedules")
def schedules_page(request: Request, svc: ServicesDep, user: Reader) -> Response:
    return _schedules(request, svc, user)


def _schedules(request: Request, svc: Services, user: WebUser, status_code: int = 200, **extra: Any) -> Response:
    return render(_templates(), request, "scans/schedules.html", user, status_code=status_code,
                  schedules=svc.scanning.list_schedules(user.actor), **_context(), **extra)


@router.post("/scans/schedules")
def create_schedule(
    request: Request, svc: ServicesDep, user: Poster, name: Annotated[str, Form()] = "",
    frequency: Annotated[str, Form()] = "daily", time: Annotated[str, Form()] = "",
    weekday: Annotated[str, Form()] = "", hosts: Annotated[str, Form()] = "",
    ports: Annotated[str, Form()] = "443", inventory: Annotated[str, Form()] = "",
) -> Response:
    try:
        if frequency not in ("daily", "weekly"):
            raise InvalidInput("frequency: choose daily or weekly")
        spec = TargetSpec(hosts=hosts.replace(",", " ").split(), ports=parse_ports([ports]),
                          inventory=bool(inventory))
        if not name.strip():
            raise InvalidInput("name: a schedule needs a name")
        data = ScheduleIn(name=name.strip(), frequency=frequency, time=time,
                          weekday=weekday or None, targets=spec)
        schedule = svc.scanning.create_schedule(user.actor, data)
    except CertvaultError as exc:
        form = {"name": name, "frequency": frequency, "time": time, "weekday": weekday, "hosts": hosts,
                "ports": ports, "inventory": bool(inventory)}
        return _schedules(request, svc, user, status_code=exc.status_code, error_message=exc.message, form=form)
    return _schedules(request, svc, user, status_code=201,
                      info_message=f"Schedule {schedule.name} added: {describe_when(schedule)}.")


@router.post("/scans/schedules/{schedule_id}/toggle")
def toggle_schedule(request: Request, schedule_id: uuid.UUID, svc: ServicesDep, user: Poster) -> Response:
    schedule = svc.scanning.get_schedule(user.actor, schedule_id)
    done = "schedule-paused" if schedule.enabled else "schedule-resumed"
    svc.scanning.update_schedule(user.actor, schedule_id, ScheduleUpdate(enabled=not schedule.enabled))
    return RedirectResponse(f"/scans/schedules?done={done}", status_code=303)


@router.post("/scans/runs/{run_id}/cancel")
def cancel_run(request: Request, run_id: uuid.UUID, svc: ServicesDep, user: Poster) -> Response:
    svc.scanning.cancel_run(user.actor, run_id)
    return RedirectResponse(f"/scans/runs/{run_id}?done=run-cancelled", status_code=303)


@router.post("/scans/schedules/{schedule_id}/delete")
def delete_schedule(request: Request, schedule_id: uuid.UUID, svc: ServicesDep, user: Poster) -> Response:
    svc.scanning.delete_schedule(user.actor, schedule_id)
    return RedirectResponse("/scans/schedules?done=schedule-deleted", status_code=303)

"""REST routes for scanning: start scans, follow runs, browse endpoints with history, events, schedules."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Response

from certvault.api.deps import Cursor, Offset, ServicesDep, ShortOffset, require
from certvault.api.schemas import CursorPage, Page, cursor_page
from certvault.auth.rbac import Actor, Permission
from certvault.scanning.queries import EndpointQuery
from certvault.scanning.schemas import (
    EndpointDetail,
    EndpointOut,
    EventOut,
    FindingOut,
    ResultOut,
    ResultSummary,
    RunOut,
    ScheduleIn,
    ScheduleOut,
    ScheduleUpdate,
    TargetSpec,
    WeakCipherOut,
)

router = APIRouter(prefix="/api/v1/scans", tags=["scans"])
Reader = Depends(require(Permission.SCANS_READ))
Runner = Depends(require(Permission.SCANS_RUN))


# ---- runs ----------------------------------------------------------------------------------------
@router.post("/runs", response_model=RunOut, status_code=202)
def start_scan(spec: TargetSpec, svc: ServicesDep, actor: Actor = Runner) -> RunOut:
    """Queue a scan of hosts/CIDR ranges/ports and/or the inventory; follow it with GET /runs/{id}."""
    run = svc.scanning.start_run(actor, spec, source="api")
    return RunOut.model_validate(svc.scanning.run_view(run))


@router.get("/runs", response_model=Page[RunOut])
def list_runs(svc: ServicesDep, actor: Actor = Reader, status: str | None = None,
              limit: int = Query(50, ge=1, le=500), offset: Offset = 0) -> Page[RunOut]:
    rows, total = svc.scanning.list_runs(actor, limit, offset, status)
    return Page(items=[RunOut.model_validate(svc.scanning.run_view(r)) for r in rows], total=total,
                limit=limit, offset=offset)


@router.get("/runs/{run_id}", response_model=RunOut)
def get_run(run_id: uuid.UUID, svc: ServicesDep, actor: Actor = Reader) -> RunOut:
    return RunOut.model_validate(svc.scanning.run_view(svc.scanning.get_run(actor, run_id)))


@router.post("/runs/{run_id}/cancel", response_model=RunOut)
def cancel_run(run_id: uuid.UUID, svc: ServicesDep, actor: Actor = Runner) -> RunOut:
    return RunOut.model_validate(svc.scanning.run_view(svc.scanning.cancel_run(actor, run_id)))


# ---- endpoints -----------------------------------------------------------------------------------
@router.get("/endpoints", response_model=CursorPage[EndpointOut])
def list_endpoints(
    svc: ServicesDep, actor: Actor = Reader,
    grade: str | None = Query(None, description="A+, A, A-, B, C, D, E, F, T or M"),
    vulnerable_to: str | None = Query(None, alias="vulnerable-to",
                                      description="a finding: heartbleed, TLSv1.0, expired, weak_ciphers, ..."),
    expiring: int | None = Query(None, ge=0, le=3650, description="certificate expires within N days"),
    host: str | None = Query(None, max_length=255, description="part of the host name or IP"),
    status: str | None = Query(None, description="ok or unreachable"),
    sort: str = Query("host", description="host, grade, expiry or scanned"),
    limit: int = Query(50, ge=1, le=500), offset: ShortOffset = 0, cursor: Cursor = None,
) -> CursorPage[EndpointOut]:
    """Deep pages: follow `next_cursor` (each page is an index seek, never a long OFFSET)."""
    query = EndpointQuery(grade=grade, vulnerable_to=vulnerable_to, expiring_within_days=expiring, host=host,
                          status=status, sort=sort, limit=limit, offset=offset, cursor=cursor)
    if offset and cursor is None:
        rows, total = svc.scanning.list_endpoints(actor, query)
        return CursorPage(items=[EndpointOut.model_validate(r) for r in rows], total=total, limit=limit,
                          offset=offset)
    page = svc.scanning.endpoint_page(actor, query)
    return cursor_page([EndpointOut.model_validate(r) for r in page.items], page, limit)


@router.get("/endpoints/{endpoint_id}", response_model=EndpointDetail)
def get_endpoint(endpoint_id: uuid.UUID, svc: ServicesDep, actor: Actor = Reader,
                 history: int = Query(50, ge=1, le=1000)) -> EndpointDetail:
    """The latest full result, the history of results, change events and weak ciphers."""
    endpoint = svc.scanning.get_endpoint(actor, endpoint_id)
    latest = svc.scanning.latest_result(actor, endpoint_id)
    events, _ = svc.scanning.list_events(actor, endpoint_id=endpoint_id, limit=100)
    return EndpointDetail(
        **EndpointOut.model_validate(endpoint).model_dump(),
        latest=ResultOut.model_validate(latest) if latest else None,
        history=[ResultSummary.model_validate(r) for r in svc.scanning.history(actor, endpoint_id, history)],
        events=[EventOut.model_validate(e) for e in events],
        weak_ciphers=[WeakCipherOut.model_validate(w) for w in svc.scanning.weak_ciphers(actor, endpoint_id)],
        finding_details=[FindingOut.model_validate(f) for f in svc.scanning.finding_details(endpoint)],
    )


@router.get("/endpoints/{endpoint_id}/weak-ciphers", response_model=list[WeakCipherOut])
def weak_ciphers(endpoint_id: uuid.UUID, svc: ServicesDep, actor: Actor = Reader) -> list[WeakCipherOut]:
    return [WeakCipherOut.model_validate(w) for w in svc.scanning.weak_ciphers(actor, endpoint_id)]


@router.get("/results/{result_id}", response_model=ResultOut)
def get_result(result_id: uuid.UUID, svc: ServicesDep, actor: Actor = Reader) -> ResultOut:
    return ResultOut.model_validate(svc.scanning.get_result(actor, result_id))


# ---- events --------------------------------------------------------------------------------------
@router.get("/events", response_model=Page[EventOut])
def list_events(svc: ServicesDep, actor: Actor = Reader, type: str | None = None,
                endpoint_id: uuid.UUID | None = None,
                limit: int = Query(50, ge=1, le=500), offset: Offset = 0) -> Page[EventOut]:
    rows, total = svc.scanning.list_events(actor, endpoint_id=endpoint_id, type=type, limit=limit, offset=offset)
    return Page(items=[EventOut.model_validate(e) for e in rows], total=total, limit=limit, offset=offset)


# ---- schedules -----------------------------------------------------------------------------------
@router.get("/schedules", response_model=list[ScheduleOut])
def list_schedules(svc: ServicesDep, actor: Actor = Reader) -> list[ScheduleOut]:
    return [ScheduleOut.model_validate(s) for s in svc.scanning.list_schedules(actor)]


@router.post("/schedules", response_model=ScheduleOut, status_code=201)
def create_schedule(data: ScheduleIn, svc: ServicesDep, actor: Actor = Runner) -> ScheduleOut:
    return ScheduleOut.model_validate(svc.scanning.create_schedule(actor, data))


@router.get("/schedules/{schedule_id}", response_model=ScheduleOut)
def get_schedule(schedule_id: uuid.UUID, svc: ServicesDep, actor: Actor = Reader) -> ScheduleOut:
    return ScheduleOut.model_validate(svc.scanning.get_schedule(actor, schedule_id))


@router.patch("/schedules/{schedule_id}", response_model=ScheduleOut)
def update_schedule(schedule_id: uuid.UUID, data: ScheduleUpdate, svc: ServicesDep,
                    actor: Actor = Runner) -> ScheduleOut:
    return ScheduleOut.model_validate(svc.scanning.update_schedule(actor, schedule_id, data))


@router.delete("/schedules/{schedule_id}", status_code=204, response_class=Response)
def delete_schedule(schedule_id: uuid.UUID, svc: ServicesDep, actor: Actor = Runner) -> Response:
    svc.scanning.delete_schedule(actor, schedule_id)
    return Response(status_code=204)

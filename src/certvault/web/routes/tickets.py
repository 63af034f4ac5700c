"""Ticket pages: /tickets (what certvault keeps, with links into the help desk, pending and failed changes,
"sync now") and /tickets/helpdesks (each help desk's ticket options, mutual-TLS client identity, trusted
certificate and "test connection"). Help desks are added on /integrations/ticketing (generated)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from certvault.api.deps import ServicesDep
from certvault.auth.rbac import Permission
from certvault.errors import CertvaultError
from certvault.tickets.schemas import HelpDeskOut, TicketOut
from certvault.web.deps import WebUser, check_csrf, page, render
from certvault.web.routes.integrations import secure_from_form

router = APIRouter(include_in_schema=False)
Reader = Annotated[WebUser, Depends(page(Permission.REPORTS_READ))]
Manager = Annotated[WebUser, Depends(page(Permission.SETTINGS_MANAGE))]
Poster = Annotated[WebUser, Depends(check_csrf)]


def _templates() -> Any:
    from certvault.web.app import templates

    return templates


@router.get("/tickets")
def tickets_page(request: Request, svc: ServicesDep, user: Reader) -> Response:
    return _tickets(request, svc, user)


def _tickets(request: Request, svc: Any, user: WebUser, status: int = 200, **context: Any) -> Response:
    open_only = request.query_params.get("status") == "open"  # the dashboard's "open tickets" link
    rows = [TicketOut.of(r, a) for r, a in svc.tickets.records(user.actor, open_only=open_only)]
    counts = {state: sum(1 for t in rows if t.sync_state == state) for state in ("ok", "pending", "failed")}
    return render(_templates(), request, "tickets/list.html", user, status_code=status, tickets=rows, counts=counts,
                  open_only=open_only, **context)


@router.post("/tickets/sync")
def sync_now(request: Request, svc: ServicesDep, user: Poster) -> Response:
    try:
        svc.tickets.request_sync(user.actor)
    except CertvaultError as exc:
        return _tickets(request, svc, user, exc.status_code, error_message=exc.message)
    return RedirectResponse("/tickets?synced=1", status_code=303)


@router.get("/tickets/helpdesks")
def helpdesks_page(request: Request, svc: ServicesDep, user: Manager) -> Response:
    return _helpdesks(request, svc, user)


def _helpdesks(request: Request, svc: Any, user: WebUser, status: int = 200, **context: Any) -> Response:
    desks = [HelpDeskOut.of(a, s) for a, s in svc.tickets.helpdesks(user.actor)]
    return render(_templates(), request, "tickets/helpdesks.html", user, status_code=status, helpdesks=desks,
                  **context)


@router.post("/tickets/helpdesks/{ref}/settings")
async def save_settings(request: Request, ref: str, svc: ServicesDep, user: Poster) -> Response:
    form = await request.form()
    try:
        await secure_from_form(svc, user, "ticketing", ref, form)
        svc.tickets.configure(user.actor, ref, expiry_tickets=form.get("expiry_tickets") == "yes",
                              vulnerability_tickets=form.get("vulnerability_tickets") == "yes",
                              resolve_on_renewal=form.get("resolve_on_renewal") == "yes")
    except CertvaultError as exc:
        return _helpdesks(request, svc, user, exc.status_code, error_ref=ref, form_error=exc.message)
    return RedirectResponse(f"/tickets/helpdesks?saved={ref}", status_code=303)


@router.post("/tickets/helpdesks/{ref}/test")
def test_connection(request: Request, ref: str, svc: ServicesDep, user: Poster) -> Response:
    try:
        result = svc.tickets.check(user.actor, ref)
    except CertvaultError as exc:
        return _helpdesks(request, svc, user, 200, error_ref=ref, test_error=exc.message)
    return _helpdesks(request, svc, user, info_ref=ref, info_message=result)

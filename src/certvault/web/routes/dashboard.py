"""The dashboard: expiry counts and a chart of expiries per week."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from certvault.api.deps import ServicesDep
from certvault.web.deps import CurrentWebUser, render

router = APIRouter(include_in_schema=False)


@router.get("/")
def dashboard(request: Request, svc: ServicesDep, user: CurrentWebUser) -> Response:
    from certvault.web.app import templates

    summary = svc.certificates.expiry_summary(user.actor) if user.can("certificates.read") else None
    return render(templates, request, "dashboard.html", user, summary=summary)

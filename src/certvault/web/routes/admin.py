"""The audit log page (users and groups: web/routes/users.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from certvault.api.deps import Offset, ServicesDep
from certvault.audit.service import AuditQuery
from certvault.auth.rbac import Permission
from certvault.web.deps import WebUser, page, render

router = APIRouter(include_in_schema=False)
PAGE = 50


def _templates():
    from certvault.web.app import templates

    return templates


@router.get("/audit")
def audit_page(
    request: Request, svc: ServicesDep, user: Annotated[WebUser, Depends(page(Permission.AUDIT_READ))],
    action: str | None = None, actor: str | None = None, outcome: str | None = None,
    q: str | None = None, since: datetime | None = None, offset: Offset = 0,
) -> Response:
    query = AuditQuery(action=action or None, actor=actor or None, outcome=outcome or None, text=q or None,
                       since=since, limit=PAGE, offset=offset)
    rows, total = svc.audit.search(user.actor, query)
    return render(_templates(), request, "audit.html", user, rows=rows, total=total, offset=offset,
                  page_size=PAGE, filters={"action": action or "", "actor": actor or "",
                                           "outcome": outcome or "", "q": q or ""})

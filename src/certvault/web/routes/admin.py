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
from certvault.web.filters import PAGE_SIZES, detail_value, plain_when
from certvault.web.tables import CSV_ROWS, csv_response

router = APIRouter(include_in_schema=False)
PAGE = 50
COUNT_CAP = 10_000


def _templates():
    from certvault.web.app import templates

    return templates


def _audit_query(action: str | None, actor: str | None, outcome: str | None, q: str | None,
                 since: datetime | None, limit: int, offset: int = 0, before: int | None = None) -> AuditQuery:
    return AuditQuery(action=action or None, actor=actor or None, outcome=outcome or None, text=q or None,
                      since=since, limit=limit, offset=offset, before=before)


@router.get("/audit")
def audit_page(
    request: Request, svc: ServicesDep, user: Annotated[WebUser, Depends(page(Permission.AUDIT_READ))],
    action: str | None = None, actor: str | None = None, outcome: str | None = None,
    q: str | None = None, since: datetime | None = None, offset: Offset = 0, size: int = PAGE,
    before: int | None = None,
) -> Response:
    """Numbered pages near the top; "older" beyond them follows the sequence number (keyset, no OFFSET)."""
    size = size if size in PAGE_SIZES else PAGE
    query = _audit_query(action, actor, outcome, q, since, size, 0 if before else offset, before)
    query.count_cap = COUNT_CAP  # counting a million rows per page view costs more than the page
    rows, total = svc.audit.search(user.actor, query)
    return render(_templates(), request, "audit.html", user, rows=rows, total=min(total, COUNT_CAP),
                  capped=total > COUNT_CAP, offset=offset,
                  page_size=size, before=before, filters={"action": action or "", "actor": actor or "",
                                                          "outcome": outcome or "", "q": q or ""})


@router.get("/audit.csv")
def audit_csv(
    svc: ServicesDep, user: Annotated[WebUser, Depends(page(Permission.AUDIT_READ))],
    action: str | None = None, actor: str | None = None, outcome: str | None = None,
    q: str | None = None, since: datetime | None = None, before: int | None = None,
) -> Response:
    """The filtered log, newest first, as CSV (at most CSV_ROWS rows, read by sequence number)."""
    out: list[list[object]] = []
    while len(out) < CSV_ROWS:
        rows, _ = svc.audit.search(user.actor, _audit_query(action, actor, outcome, q, since, 500, before=before))
        out += [[e.seq, plain_when(e.at), e.actor_name, e.ip or "", e.action, e.outcome, e.target_type or "",
                 e.target_id or "", "; ".join(f"{k}={detail_value(v)}" for k, v in (e.details or {}).items())]
                for e in rows]
        if len(rows) < 500:
            break
        before = rows[-1].seq
    return csv_response("audit.csv", ["seq", "at", "user", "ip", "action", "outcome", "target_type", "target_id",
                                      "details"], out)

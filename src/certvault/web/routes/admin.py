"""The audit log page (users and groups: web/routes/users.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from certvault.api.deps import ServicesDep
from certvault.audit.service import COUNT_CAP, AuditQuery
from certvault.auth.rbac import Permission
from certvault.container import Services
from certvault.errors import CertvaultError
from certvault.web.deps import WebUser, page, render
from certvault.web.filters import PAGE_SIZES, detail_value, plain_when
from certvault.web.paging import Pager, pager
from certvault.web.tables import CSV_ROWS, csv_response

router = APIRouter(include_in_schema=False)
PAGE = 50


def _templates():
    from certvault.web.app import templates

    return templates


def _audit_query(action: str | None, actor: str | None, outcome: str | None, q: str | None,
                 since: datetime | None, limit: int, offset: int = 0, before: int | None = None) -> AuditQuery:
    return AuditQuery(action=action or None, actor=actor or None, outcome=outcome or None, text=q or None,
                      since=since, limit=limit, offset=offset, before=before)


def _certificate_names(svc: Services, user: WebUser, rows: list[Any]) -> dict[str, str]:
    """Names for the certificates the page's rows are about (a UUID means nothing to a reader)."""
    if not user.can(Permission.CERTIFICATES_READ):
        return {}
    ids = []
    for row in rows:
        if row.target_type == "certificate" and row.target_id:
            try:
                ids.append(uuid.UUID(row.target_id))
            except ValueError:
                continue
    return {str(k): v for k, v in svc.certificates.names_of(user.actor, ids).items()}


@router.get("/audit")
def audit_page(
    request: Request, svc: ServicesDep, user: Annotated[WebUser, Depends(page(Permission.AUDIT_READ))],
    action: str | None = None, actor: str | None = None, outcome: str | None = None,
    q: str | None = None, since: datetime | None = None, size: int = PAGE, before: int | None = None,
    cursor: str = "",
) -> Response:
    """Pages by cursor down the sequence number (db/keyset.py, no OFFSET); `before=SEQ` (older links) still works."""
    size = size if size in PAGE_SIZES else PAGE
    query = _audit_query(action, actor, outcome, q, since, size, 0, None if cursor else before)
    query.count_cap, query.cursor = COUNT_CAP, cursor or None  # counting a million rows costs more than the page
    context: dict[str, Any] = {"page_size": size, "filters": {"action": action or "", "actor": actor or "",
                                                              "outcome": outcome or "", "q": q or ""}}
    try:
        found = svc.audit.page(user.actor, query)
        context.update(rows=found.items, pager=pager(found, size, "entries"),
                       target_names=_certificate_names(svc, user, found.items))
        status = 200
    except CertvaultError as exc:
        context.update(rows=[], pager=Pager("0 entries", size), target_names={}, error_message=exc.message)
        status = exc.status_code
    return render(_templates(), request, "audit.html", user, status_code=status, **context)


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

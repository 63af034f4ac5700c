"""Search and verify the audit log."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query

from certvault.api.deps import Cursor, ServicesDep, ShortOffset, require
from certvault.api.schemas import CursorPage, cursor_page
from certvault.audit.schemas import AuditEventOut, VerifyOut
from certvault.audit.service import COUNT_CAP, AuditQuery
from certvault.auth.rbac import Actor, Permission

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=CursorPage[AuditEventOut])
def search_audit(
    svc: ServicesDep,
    actor: Actor = Depends(require(Permission.AUDIT_READ)),
    action: str | None = None,
    user: str | None = Query(default=None, description="actor name"),
    target_type: str | None = None,
    target_id: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    offset: ShortOffset = 0,
    cursor: Cursor = None,
) -> CursorPage[AuditEventOut]:
    """Newest first. Deep pages: follow `next_cursor` (each page is an index seek, never a long OFFSET)."""
    query = AuditQuery(action=action, actor=user, target_type=target_type, target_id=target_id,
                       outcome=outcome, since=since, until=until, text=q, limit=limit, offset=offset,
                       count_cap=COUNT_CAP, cursor=cursor)
    if offset and cursor is None:
        rows, total = svc.audit.search(actor, query)
        return CursorPage(items=[AuditEventOut.model_validate(r) for r in rows], total=total, limit=limit,
                          offset=offset)
    page = svc.audit.page(actor, query)
    return cursor_page([AuditEventOut.model_validate(r) for r in page.items], page, limit)


@router.get("/verify", response_model=VerifyOut)
def verify_audit(svc: ServicesDep, actor: Actor = Depends(require(Permission.AUDIT_READ))) -> VerifyOut:
    result = svc.audit.verify()
    return VerifyOut(ok=result.ok, checked=result.checked, problems=result.problems)

"""Search and verify the audit log."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query

from certvault.api.deps import Cursor, ServicesDep, ShortOffset, require
from certvault.api.schemas import CursorPage
from certvault.audit.schemas import AuditEventOut, VerifyOut
from certvault.audit.service import AuditQuery
from certvault.auth.rbac import Actor, Permission

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
COUNT_CAP = 10_000  # a page's total stops here ("10,000+"): counting a million rows costs more than the page


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
    return CursorPage(items=[AuditEventOut.model_validate(r) for r in page.items], total=page.total,
                      total_capped=page.total_capped, limit=limit, offset=0, next_cursor=page.next_cursor,
                      prev_cursor=page.before_cursor)


@router.get("/verify", response_model=VerifyOut)
def verify_audit(svc: ServicesDep, actor: Actor = Depends(require(Permission.AUDIT_READ))) -> VerifyOut:
    result = svc.audit.verify()
    return VerifyOut(ok=result.ok, checked=result.checked, problems=result.problems)

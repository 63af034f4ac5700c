"""Search and verify the audit log."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query

from certvault.api.deps import Offset, ServicesDep, require
from certvault.api.schemas import Page
from certvault.audit.schemas import AuditEventOut, VerifyOut
from certvault.audit.service import AuditQuery
from certvault.auth.rbac import Actor, Permission

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=Page[AuditEventOut])
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
    offset: Offset = 0,
) -> Page[AuditEventOut]:
    query = AuditQuery(action=action, actor=user, target_type=target_type, target_id=target_id,
                       outcome=outcome, since=since, until=until, text=q, limit=limit, offset=offset)
    rows, total = svc.audit.search(actor, query)
    return Page(items=[AuditEventOut.model_validate(r) for r in rows], total=total, limit=limit,
                offset=offset)


@router.get("/verify", response_model=VerifyOut)
def verify_audit(svc: ServicesDep, actor: Actor = Depends(require(Permission.AUDIT_READ))) -> VerifyOut:
    result = svc.audit.verify()
    return VerifyOut(ok=result.ok, checked=result.checked, problems=result.problems)

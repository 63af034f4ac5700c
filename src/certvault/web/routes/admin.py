"""Administration pages: users, groups, audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from certvault.api.deps import Offset, ServicesDep
from certvault.audit.service import AuditQuery
from certvault.auth.rbac import Permission, Role
from certvault.errors import CertvaultError
from certvault.web.deps import WebUser, check_csrf, page, render

router = APIRouter(include_in_schema=False)
PAGE = 50


def _templates():
    from certvault.web.app import templates

    return templates


@router.get("/admin/users")
def users_page(request: Request, svc: ServicesDep,
               user: Annotated[WebUser, Depends(page(Permission.USERS_READ))]) -> Response:
    return render(_templates(), request, "admin/users.html", user, users=svc.auth.list_users(user.actor),
                  groups=svc.auth.list_groups(user.actor), roles=[r.value for r in Role])


@router.post("/admin/users")
def create_user(
    request: Request, svc: ServicesDep, user: Annotated[WebUser, Depends(check_csrf)],
    username: Annotated[str, Form()], role: Annotated[str, Form()],
    email: Annotated[str, Form()] = "", allowed_networks: Annotated[str, Form()] = "",
) -> Response:
    context: dict[str, object] = {"roles": [r.value for r in Role]}
    try:
        created, password = svc.auth.create_user(
            user.actor, username, role, email=email or None,
            allowed_networks=[n for n in allowed_networks.replace(",", " ").split() if n],
        )
        context["info_message"] = f"User {created.username} created. One-time password: {password}"
        status = 201
    except CertvaultError as exc:
        context["error_message"] = exc.message
        status = exc.status_code
    return render(_templates(), request, "admin/users.html", user, status_code=status,
                  users=svc.auth.list_users(user.actor), groups=svc.auth.list_groups(user.actor), **context)


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

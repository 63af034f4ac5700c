"""Request-scoped dependencies: one transaction per request, authentication, permission gates.

Every route declares `require(Permission.X)`, `authenticated` or is listed in PUBLIC_PATHS; a test
walks the OpenAPI routes to prove it.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request

from certvault.auth.rbac import Actor, Permission
from certvault.auth.rbac import require as require_permission
from certvault.container import App, Services
from certvault.errors import Forbidden, Unauthenticated

SESSION_COOKIE = "cv_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_app(request: Request) -> App:
    return request.app.state.certvault  # type: ignore[no-any-return]


def services(request: Request) -> Iterator[Services]:
    with get_app(request).transaction() as svc:
        yield svc


ServicesDep = Annotated[Services, Depends(services)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def authenticated(request: Request, svc: ServicesDep) -> Actor:
    """Bearer token (API clients) or session cookie + CSRF header (the browser)."""
    ip = client_ip(request)
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        actor = svc.auth.authenticate_token(credentials.strip(), ip)
    elif cookie := request.cookies.get(SESSION_COOKIE):
        actor, web, _user = svc.auth.authenticate_session(cookie, ip)
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent, web.csrf_token):
                raise Forbidden("missing or wrong CSRF token (send the X-CSRF-Token header)")
    else:
        raise Unauthenticated("authentication required: send a bearer token or log in")
    request.state.actor = actor
    return actor


CurrentActor = Annotated[Actor, Depends(authenticated)]


class _PermissionGate:
    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __call__(self, actor: CurrentActor) -> Actor:
        require_permission(actor, self.permission)
        return actor


def require(permission: Permission) -> Callable[..., Actor]:
    """A dependency that authenticates and checks one role permission."""
    return _PermissionGate(permission)

"""The Agents page: enrolment tokens with the one-line install command, the agent package, status, revoke."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from certvault.agents.schemas import AgentOut, JobOut
from certvault.api.deps import ServicesDep
from certvault.api.routes.agents import install_command, package_file
from certvault.auth.rbac import Permission
from certvault.container import Services
from certvault.errors import CertvaultError, NotFound
from certvault.web.deps import WebUser, check_csrf, page, render

router = APIRouter(include_in_schema=False)
Reader = Annotated[WebUser, Depends(page(Permission.CA_READ))]
Poster = Annotated[WebUser, Depends(check_csrf)]
LIFETIMES = {"15m": 900, "1h": 3600, "1d": 86400, "7d": 7 * 86400}


def _templates() -> Any:
    from certvault.web.app import templates

    return templates


def _page(request: Request, svc: Services, user: WebUser, status: int = 200, **context: Any) -> Response:
    rows = [AgentOut.of(agent, cert) for agent, cert in svc.agents.agents(user.actor)]
    jobs = [JobOut.of(job, name) for job, name in svc.agents.jobs(user.actor, limit=20)]
    try:
        package: str | None = package_file(request.app.state.certvault).name
    except NotFound:
        package = None
    return render(_templates(), request, "agents.html", user, status_code=status, agents=rows, jobs=jobs,
                  package=package, lifetimes=LIFETIMES, **context)


@router.get("/agents")
def agents_page(request: Request, svc: ServicesDep, user: Reader) -> Response:
    return _page(request, svc, user)


@router.post("/agents/tokens")
def create_token(request: Request, svc: ServicesDep, user: Poster, name: Annotated[str, Form()] = "",
                 expires_in: Annotated[str, Form()] = "1h") -> Response:
    try:
        lifetime = timedelta(seconds=LIFETIMES.get(expires_in, 3600))
        token, row = svc.agents.create_token(user.actor, name.strip(), lifetime)
    except CertvaultError as exc:
        return _page(request, svc, user, status=exc.status_code, field_errors={"name": exc.message},
                     values={"name": name})
    base = str(request.base_url).rstrip("/")
    return _page(request, svc, user, status=201, created={"agent": row.agent_name, "token": token,
                 "expires_at": row.expires_at, "command": install_command(base, token), "server": base})


@router.post("/agents/{name}/revoke")
def revoke(name: str, svc: ServicesDep, user: Poster) -> Response:
    svc.agents.revoke(user.actor, name)
    return RedirectResponse("/agents?done=revoked", status_code=303)

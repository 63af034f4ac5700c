"""Agents: management (tokens, list, revoke, jobs) and the agents' own mutual-TLS API under /api/v1/agent.

The agent routes authenticate by client certificate on every call (api/peer_cert.py puts it in the
scope; the agents service decides whether it belongs to a live agent), so they carry `custom_auth`.
A job poll waits up to `wait` seconds without holding a database session: one query per second per
process (JobBell) finds the agents with work and wakes their polls.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from certvault.agents import schemas as s
from certvault.agents.service import AgentIdentity, Issued, LeasedJob
from certvault.api.deps import ServicesDep, client_ip, get_app, require
from certvault.api.peer_cert import peer_certificate
from certvault.auth.rbac import Actor, Permission
from certvault.container import App
from certvault.errors import NotFound

log = logging.getLogger("certvault.agents")
router = APIRouter(tags=["agents"])
Reader = Annotated[Actor, Depends(require(Permission.CA_READ))]
Manager = Annotated[Actor, Depends(require(Permission.CA_ISSUE))]
BELL_TICK = 1.0


class AgentRoute(APIRoute):
    """Authenticated by the agent's client certificate (or, for enrolment, its one-time token)."""

    custom_auth = True


agent_router = APIRouter(prefix="/api/v1/agent", tags=["agent (mutual TLS)"], route_class=AgentRoute)


# ---- management ----------------------------------------------------------------------------------
@router.post("/api/v1/agents/tokens", response_model=s.TokenOut, status_code=201)
def create_token(body: s.TokenCreate, request: Request, svc: ServicesDep, actor: Manager) -> s.TokenOut:
    token, row = svc.agents.create_token(actor, body.name, timedelta(seconds=body.expires_in))
    return s.TokenOut(token=token, agent=row.agent_name, expires_at=row.expires_at,
                      install_command=install_command(str(request.base_url).rstrip("/"), token))


@router.get("/api/v1/agents", response_model=list[s.AgentOut])
def list_agents(svc: ServicesDep, actor: Reader) -> list[s.AgentOut]:
    return [s.AgentOut.of(agent, cert) for agent, cert in svc.agents.agents(actor)]


@router.post("/api/v1/agents/{name}/revoke", response_model=s.AgentOut)
def revoke_agent(name: str, svc: ServicesDep, actor: Manager) -> s.AgentOut:
    svc.agents.revoke(actor, name)
    return next(s.AgentOut.of(a, c) for a, c in svc.agents.agents(actor) if a.name == name)


@router.get("/api/v1/agents/jobs", response_model=list[s.JobOut])
def list_jobs(svc: ServicesDep, actor: Reader, agent: str | None = Query(None, max_length=64),
              limit: int = Query(100, ge=1, le=1000)) -> list[s.JobOut]:
    return [s.JobOut.of(job, name) for job, name in svc.agents.jobs(actor, agent, limit)]


def install_command(base_url: str, token: str) -> str:
    """The one line an operator runs on the end server (Linux; install.ps1 takes the same on Windows)."""
    return (f"curl -fsSk {base_url}/api/v1/ca/root.pem -o certvault-ca.pem && "
            f"curl -fsS --cacert certvault-ca.pem {base_url}/api/v1/agent/package -o certvault-agent.zip && "
            f"unzip -o certvault-agent.zip && sudo sh certvault-agent/install.sh --server {base_url} "
            f"--token {token} --ca-file certvault-ca.pem")


def package_file(app: App) -> Path:
    folder = app.settings.data_dir / "agent-package"
    found = sorted(folder.glob("certvault-agent-*.zip")) if folder.is_dir() else []
    if not found:
        raise NotFound("no agent package has been built; run `make agent-package` on the server")
    return found[-1]


@router.get("/api/v1/agent/package", response_class=FileResponse)
def download_package(request: Request) -> FileResponse:
    """The agent package (wheel and install scripts for Linux and Windows); public, like the CA root."""
    path = package_file(get_app(request))
    return FileResponse(path, media_type="application/zip", filename=path.name)


# ---- the agent's own calls -------------------------------------------------------------------------
def _certificate(issued: Issued) -> s.CertificateOut:
    return s.CertificateOut(agent=issued.agent, cert_pem=issued.cert_pem.decode(), chain_pem=issued.chain_pem.decode(),
                            serial=issued.serial, not_after=issued.not_after)


def _caller(request: Request, svc: ServicesDep) -> AgentIdentity:
    """The calling agent, from its client certificate (before the body is read: no certificate, 401)."""
    return svc.agents.authenticate(peer_certificate(request.scope), client_ip(request))


Caller = Annotated[AgentIdentity, Depends(_caller)]


@agent_router.post("/enroll", response_model=s.CertificateOut, status_code=201)
def enroll(body: s.EnrolIn, request: Request, svc: ServicesDep) -> s.CertificateOut:
    return _certificate(svc.agents.enroll(body.token, body.csr_pem.encode(), client_ip(request), body.details))


@agent_router.post("/certificate", response_model=s.CertificateOut, status_code=201)
def renew(agent: Caller, body: s.RenewIn, svc: ServicesDep) -> s.CertificateOut:
    return _certificate(svc.agents.renew(agent, body.csr_pem.encode()))


@agent_router.post("/jobs/{job_id}/result", response_model=s.JobOut)
def report(agent: Caller, job_id: uuid.UUID, body: s.ResultIn, svc: ServicesDep) -> s.JobOut:
    return s.JobOut.of(svc.agents.report(agent, job_id, body.ok, body.result, body.error), agent.name)


@agent_router.get("/jobs", response_model=s.PollOut)
async def poll(request: Request, wait: float = Query(25.0, ge=0, le=60)) -> s.PollOut:
    """The agent's jobs; with none ready, wait up to `wait` seconds (bounded by agents.poll_wait_seconds)."""
    app = get_app(request)
    der, address = peer_certificate(request.scope), client_ip(request)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(wait, app.settings.agents.poll_wait_seconds)
    while True:
        agent, jobs = await run_in_threadpool(_lease, app, der, address)
        left = deadline - loop.time()
        if jobs or left <= 0:
            return s.PollOut(agent=agent.name, certificate_not_after=agent.not_after,
                             jobs=[s.AgentJobOut(id=j.id, kind=j.kind, payload=j.payload, attempts=j.attempts)
                                   for j in jobs])
        await bell(request).wait(agent.id, left)


def _lease(app: App, der: bytes | None, address: str | None) -> tuple[AgentIdentity, list[LeasedJob]]:
    with app.transaction() as svc:
        agent = svc.agents.authenticate(der, address)
        return agent, svc.agents.lease(agent)


def bell(request: Request) -> JobBell:
    state = request.app.state
    if getattr(state, "agent_bell", None) is None:
        state.agent_bell = JobBell(get_app(request))
    result: JobBell = state.agent_bell
    return result


class JobBell:
    """Wakes waiting polls when their agent has work: one query per tick per process while anyone waits."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._waiters: dict[uuid.UUID, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None

    async def wait(self, agent_id: uuid.UUID, timeout: float) -> None:
        event = asyncio.Event()
        self._waiters.setdefault(agent_id, set()).add(event)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._ring())
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            waiting = self._waiters.get(agent_id, set())
            waiting.discard(event)
            if not waiting:
                self._waiters.pop(agent_id, None)

    async def _ring(self) -> None:
        while self._waiters:
            await asyncio.sleep(BELL_TICK)
            try:
                ready = await run_in_threadpool(self._ready)
            except Exception:  # a failed tick is retried at the next one; polls time out meanwhile
                log.warning("agent job bell: the check for ready jobs failed", exc_info=True)
                continue
            for agent_id in ready:
                for event in self._waiters.get(agent_id, ()):
                    event.set()

    def _ready(self) -> set[uuid.UUID]:
        with self._app.transaction() as svc:
            return svc.agents.ready_agents(svc.ctx.now())


router.include_router(agent_router)


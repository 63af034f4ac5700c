"""Health, runtime settings, the job queue and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from certvault import __version__
from certvault.api.deps import ServicesDep, require
from certvault.api.metrics import render_metrics
from certvault.auth.rbac import Actor, Permission
from certvault.container import App
from certvault.jobs import queue

router = APIRouter(tags=["system"])


class Health(BaseModel):
    status: str
    version: str


@router.get("/api/v1/health", response_model=Health)
async def health(request: Request) -> Health:
    """A probe of the read connection, not a transaction (no SQLite writer lock, no write session). On the event
    loop: `SELECT 1` takes less than a trip to a worker thread, and load balancers probe while those are busy."""
    app = request.app.state.certvault
    if app.reads_on_loop:
        _probe(app)
    else:
        await run_in_threadpool(_probe, app)
    return Health(status="ok", version=__version__)


def _probe(app: App) -> None:
    with app.reading() as conn:
        conn.execute(text("SELECT 1"))


@router.get("/api/v1/settings")
def get_settings(svc: ServicesDep, actor: Actor = Depends(require(Permission.SETTINGS_MANAGE))) -> dict[str, Any]:
    return svc.system.all()


class SettingChange(BaseModel):
    value: Any


@router.put("/api/v1/settings/{key}")
def change_setting(key: str, body: SettingChange, svc: ServicesDep,
                   actor: Actor = Depends(require(Permission.SETTINGS_MANAGE))) -> dict[str, Any]:
    svc.system.set(actor, key, body.value)
    return svc.system.all()


class QueueDepth(BaseModel):
    counts: dict[str, int]


@router.get("/api/v1/jobs/summary", response_model=QueueDepth)
def job_summary(svc: ServicesDep, actor: Actor = Depends(require(Permission.JOBS_READ))) -> QueueDepth:
    return QueueDepth(counts=queue.queue_depth(svc.session))


@router.get("/metrics", response_class=Response)
def metrics(svc: ServicesDep, actor: Actor = Depends(require(Permission.REPORTS_READ))) -> Response:
    return Response(render_metrics(svc), media_type=CONTENT_TYPE_LATEST)

"""Health, runtime settings, the job queue and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from sqlalchemy import text

from certvault import __version__
from certvault.api.deps import ServicesDep, require
from certvault.api.metrics import render_metrics
from certvault.auth.rbac import Actor, Permission
from certvault.jobs import queue

router = APIRouter(tags=["system"])


class Health(BaseModel):
    status: str
    version: str


@router.get("/api/v1/health", response_model=Health)
def health(svc: ServicesDep) -> Health:
    with svc.app.reading() as conn:  # a probe, not a transaction: no SQLite writer lock, no pooled write session
        conn.execute(text("SELECT 1"))
    return Health(status="ok", version=__version__)


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

"""How mappings and deployments are shown (API, CLI, web)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from certvault.deploy.models import FINAL as FINAL  # statuses a deployment ends in (re-exported for the edges)
from certvault.deploy.models import DeployMapping, Deployment


class MappingOut(BaseModel):
    id: uuid.UUID
    certificate: uuid.UUID
    target: str
    plugin: str
    auto: bool = Field(description="deployed after the first issuance and after every renewal")
    created_at: datetime

    @classmethod
    def of(cls, row: tuple[DeployMapping, str, str]) -> MappingOut:
        mapping, target, plugin = row
        return cls(id=mapping.id, certificate=mapping.entry_id, target=target, plugin=plugin, auto=mapping.auto,
                   created_at=mapping.created_at)


class DeploymentOut(BaseModel):
    id: uuid.UUID
    certificate: uuid.UUID
    version: uuid.UUID
    serial: str
    target: str
    plugin: str
    status: str = Field(description="queued, deploying, deployed, rolling_back; then verified, rolled_back or failed")
    trigger: str
    served_serial: str | None = Field(description="what the target served when verified (or instead)")
    reason: str | None
    created_at: datetime
    deployed_at: datetime | None
    verified_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, run: Deployment) -> DeploymentOut:
        return cls(id=run.id, certificate=run.entry_id, version=run.version_id, serial=run.serial,
                   target=run.target_name, plugin=run.plugin, status=run.status, trigger=run.trigger,
                   served_serial=run.served_serial, reason=run.reason, created_at=run.created_at,
                   deployed_at=run.deployed_at, verified_at=run.verified_at, finished_at=run.finished_at)


class DeploymentsOut(BaseModel):
    deployments: list[DeploymentOut]


class MapIn(BaseModel):
    certificate: uuid.UUID
    target: str = Field(min_length=1, max_length=150)
    auto: bool = True


class RunIn(BaseModel):
    certificate: uuid.UUID
    target: str | None = Field(default=None, max_length=150)


def version_rows(by_version: dict[uuid.UUID, list[Deployment]]) -> dict[str, list[dict[str, Any]]]:
    """Per version id: where it is deployed, whether verified, and when."""
    return {str(version): [{"target": r.target_name, "status": r.status, "deployed_at": r.deployed_at,
                            "verified_at": r.verified_at} for r in runs] for version, runs in by_version.items()}

"""Deployment: targets (integration accounts of kind deploy), mappings, deployments, and where each version is."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query

from certvault.api.deps import ServicesDep, require
from certvault.api.schemas import Message
from certvault.auth.rbac import Actor, Permission
from certvault.deploy.schemas import DeploymentOut, DeploymentsOut, MapIn, MappingOut, RunIn, version_rows
from certvault.integrations.schemas import AccountIn, AccountOut, CheckOut

router = APIRouter(prefix="/api/v1/deploy", tags=["deploy"])
Reader = Depends(require(Permission.CERTIFICATES_READ))
Writer = Depends(require(Permission.CERTIFICATES_WRITE))
Manager = Depends(require(Permission.SETTINGS_MANAGE))


@router.get("/targets", response_model=list[AccountOut])
def targets(svc: ServicesDep, actor: Actor = Manager) -> list[AccountOut]:
    return [AccountOut.of(a) for a in svc.integrations.list_accounts(actor, "deploy")]


@router.post("/targets", response_model=AccountOut, status_code=201)
def add_target(body: AccountIn, svc: ServicesDep, actor: Actor = Manager) -> AccountOut:
    return AccountOut.of(svc.integrations.add(actor, "deploy", body.plugin, body.name, body.options, body.secrets))


@router.post("/targets/{ref}/test", response_model=CheckOut)
def test_target(ref: str, svc: ServicesDep, actor: Actor = Manager) -> CheckOut:
    return CheckOut(ok=True, result=svc.integrations.check(actor, "deploy", ref))


@router.get("/mappings", response_model=list[MappingOut])
def mappings(svc: ServicesDep, cert: uuid.UUID | None = None, actor: Actor = Reader) -> list[MappingOut]:
    return [MappingOut.of(row) for row in svc.deploy.mappings(actor, cert)]


@router.post("/mappings", response_model=MappingOut, status_code=201)
def map_certificate(body: MapIn, svc: ServicesDep, actor: Actor = Writer) -> MappingOut:
    mapping = svc.deploy.map(actor, body.certificate, body.target, body.auto)
    target = svc.deploy.target(mapping.target_id)
    return MappingOut.of((mapping, target.name, target.plugin))


@router.delete("/mappings/{cert}/{target}", response_model=Message)
def unmap(cert: uuid.UUID, target: str, svc: ServicesDep, actor: Actor = Writer) -> Message:
    svc.deploy.unmap(actor, cert, target)
    return Message(message=f"certificate {cert} no longer mapped to {target}")


@router.post("/runs", response_model=DeploymentsOut, status_code=202)
def run(body: RunIn, svc: ServicesDep, actor: Actor = Writer) -> DeploymentsOut:
    return DeploymentsOut(deployments=[DeploymentOut.of(r) for r in svc.deploy.run(actor, body.certificate,
                                                                                   body.target)])


@router.get("/runs", response_model=list[DeploymentOut])
def deployments(svc: ServicesDep, cert: uuid.UUID | None = None, limit: int = Query(200, ge=1, le=1000),
                actor: Actor = Reader) -> list[DeploymentOut]:
    return [DeploymentOut.of(r) for r in svc.deploy.deployments(actor, cert, limit)]


@router.get("/runs/{deployment_id}", response_model=DeploymentOut)
def deployment(deployment_id: uuid.UUID, svc: ServicesDep, actor: Actor = Reader) -> DeploymentOut:
    return DeploymentOut.of(svc.deploy.deployment(actor, deployment_id))


@router.get("/certificates/{cert}", response_model=dict[str, list[dict[str, Any]]])
def where_deployed(cert: uuid.UUID, svc: ServicesDep, actor: Actor = Reader) -> dict[str, list[dict[str, Any]]]:
    """Per version of the certificate: the targets it was deployed to, whether verified, and when."""
    return version_rows(svc.deploy.by_version(actor, cert))

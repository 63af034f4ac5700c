"""The internal CA: its root (public), issued certificates, client certificates for mTLS."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from certvault.api.deps import ServicesDep, require
from certvault.auth.rbac import Actor, Permission
from certvault.filenames import content_disposition
from certvault.pki.schemas import ClientCertRequest, IssuedOut, RevokeRequest

router = APIRouter(prefix="/api/v1/ca", tags=["internal CA"])


@router.get("/root.pem", response_class=Response)
def root_certificate(svc: ServicesDep) -> Response:
    return Response(svc.pki.root_pem(), media_type="application/x-pem-file")


@router.get("/issued", response_model=list[IssuedOut])
def list_issued(svc: ServicesDep, actor: Actor = Depends(require(Permission.CA_READ)),
                profile: str | None = None) -> list[IssuedOut]:
    return [IssuedOut.model_validate(r) for r in svc.pki.list_issued(actor, profile)]


@router.post("/client-certificates", response_class=Response, status_code=201,
             responses={201: {"content": {"application/x-pkcs12": {}}}})
def issue_client_certificate(body: ClientCertRequest, svc: ServicesDep,
                             actor: Actor = Depends(require(Permission.CA_ISSUE))) -> Response:
    bundle = svc.pki.issue_client(actor, body.common_name, body.dns_names, body.days, body.key)
    return Response(bundle.pkcs12(body.password), status_code=201, media_type="application/x-pkcs12",
                    headers={"Content-Disposition": content_disposition(f"{bundle.record.serial}.p12"),
                             "X-Certificate-Serial": bundle.record.serial})


@router.post("/issued/{serial}/revoke", response_model=IssuedOut)
def revoke_issued(serial: str, body: RevokeRequest, svc: ServicesDep,
                  actor: Actor = Depends(require(Permission.CA_ISSUE))) -> IssuedOut:
    return IssuedOut.model_validate(svc.pki.revoke(actor, serial, body.reason))

"""The Deploy page: targets (added on the generic integrations page), mappings, deployment history with the
verification result; and, per certificate, where each version is deployed and verified."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from certvault.api.deps import ServicesDep
from certvault.auth.rbac import Permission
from certvault.deploy.schemas import FINAL, DeploymentOut, MappingOut
from certvault.errors import CertvaultError, InvalidInput
from certvault.integrations.schemas import AccountOut
from certvault.web.deps import WebUser, check_csrf, page, render

router = APIRouter(include_in_schema=False)
Reader = Annotated[WebUser, Depends(page(Permission.CERTIFICATES_READ))]
Poster = Annotated[WebUser, Depends(check_csrf)]


def _templates() -> Any:
    from certvault.web.app import templates

    return templates


def _page(request: Request, svc: Any, user: WebUser, status: int = 200, **context: Any) -> Response:
    actor = user.actor
    targets = ([AccountOut.of(a) for a in svc.integrations.list_accounts(actor, "deploy")]
               if actor.can(Permission.SETTINGS_MANAGE) else [])
    return render(_templates(), request, "deploy/index.html", user, status_code=status, targets=targets,
                  mappings=[MappingOut.of(m) for m in svc.deploy.mappings(actor)],
                  history=[DeploymentOut.of(r) for r in svc.deploy.deployments(actor, limit=100)],
                  can_write=actor.can(Permission.CERTIFICATES_WRITE), final=FINAL, **context)


def _certificate_id(raw: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw).strip())
    except ValueError:
        raise InvalidInput("give the certificate's id (from the inventory)") from None


@router.get("/deploy")
def deploy_page(request: Request, svc: ServicesDep, user: Reader) -> Response:
    return _page(request, svc, user)


@router.post("/deploy/{action}")
async def act(request: Request, action: str, svc: ServicesDep, user: Poster) -> Response:
    form = await request.form()
    target = str(form.get("target", "")).strip()
    try:
        cert = _certificate_id(form.get("certificate", ""))
        if action == "map":
            svc.deploy.map(user.actor, cert, target, form.get("auto") == "yes")
        elif action == "unmap":
            svc.deploy.unmap(user.actor, cert, target)
        elif action == "run":
            runs = svc.deploy.run(user.actor, cert, target or None)
            return _page(request, svc, user, info_message=f"{len(runs)} deployment(s) queued; the history below "
                                                          "shows each one's verification.")
        else:
            raise InvalidInput(f"no action {action!r}; choose map, unmap or run")
    except CertvaultError as exc:
        values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
        return _page(request, svc, user, exc.status_code, form_error=exc.message, error_action=action, values=values)
    return RedirectResponse(f"/deploy?done={action}ped", status_code=303)


@router.get("/deploy/certificates/{cert_id}")
def certificate_deployments(request: Request, cert_id: uuid.UUID, svc: ServicesDep, user: Reader) -> Response:
    entry = svc.certificates.get(user.actor, cert_id)
    by_version = svc.deploy.by_version(user.actor, cert_id)
    versions = [{"id": v.id, "serial": v.serial, "not_after": v.not_after, "current": v.id == entry.current_version_id,
                 "runs": [DeploymentOut.of(r) for r in by_version.get(v.id, [])]} for v in entry.versions]
    return render(_templates(), request, "deploy/certificate.html", user, entry_id=entry.id,
                  label=entry.common_name or str(entry.id), versions=versions,
                  mappings=[MappingOut.of(m) for m in svc.deploy.mappings(user.actor, cert_id)])

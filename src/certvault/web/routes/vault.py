"""Vault pages: the folder tree, folders with their permissions, search; the other vault pages are
included from vault_secrets, vault_secret_actions and vault_admin. Values never appear on a list."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from certvault.api.deps import ServicesDep
from certvault.auth.rbac import Permission
from certvault.container import Services
from certvault.errors import CertvaultError
from certvault.vault.access import NAMES
from certvault.vault.folders import FolderListing
from certvault.vault.templates import TEMPLATE_LABELS
from certvault.web.deps import WebUser, page, render
from certvault.web.routes import vault_admin, vault_secret_actions, vault_secrets
from certvault.web.routes.vault_common import Poster, VaultPage, attempt, checkbox, done_message, see_other, templates

router = APIRouter(include_in_schema=False)


def folder_tree(listing: list[FolderListing]) -> list[dict[str, Any]]:
    """Readable folders in path order with their depth, for an indented tree."""
    return [{"folder": item.folder, "level": item.level, "depth": item.folder.path.count("/")} for item in listing]


def _browse(request: Request, svc: Services, user: WebUser, folder_id: uuid.UUID | None = None, q: str = "",
            status: int = 200, error: CertvaultError | None = None, info: str | None = None) -> Response:
    actor = user.actor
    listing = svc.vault.folders.list_folders(actor)
    readable = {item.folder.id for item in listing}
    context: dict[str, Any] = {"tree": folder_tree(listing), "q": q, "labels": TEMPLATE_LABELS, "folder": None,
                               "grants": [], "level": "none"}
    if folder_id is not None:
        folder, level = svc.vault.folders.get(actor, folder_id)
        context.update(folder=folder, level=level, grants=svc.vault.folders.grants(actor, folder=folder.id),
                       subfolders=[i.folder for i in listing if i.folder.parent_id == folder.id])
        rows, total = svc.vault.secrets.search(actor, q or None, folder.id, 500, 0)
    else:
        context["subfolders"] = [i.folder for i in listing if i.folder.parent_id not in readable]
        rows, total = svc.vault.secrets.search(actor, q or None, None, 200, 0)
    context.update(secrets=rows, total=total, level_names=NAMES,
                   pending=_pending_decisions(svc, user))
    return render(templates(), request, "vault/index.html", user, status_code=status,
                  error_message=error.message if error else None, info_message=info, **context)


def _uuid_or_none(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _pending_decisions(svc: Services, user: WebUser) -> int:
    requests = svc.vault.protection.list_requests(user.actor, "pending")
    return sum(1 for r in requests if r.requester_id != user.actor.id)


@router.get("/vault")
def vault_page(request: Request, svc: ServicesDep, user: VaultPage, q: str | None = None,
               done: str | None = None) -> Response:
    return _browse(request, svc, user, q=q or "", info=done_message(done))


@router.get("/vault/folders/{folder_id}")
def folder_page(folder_id: uuid.UUID, request: Request, svc: ServicesDep, user: VaultPage, q: str | None = None,
                done: str | None = None) -> Response:
    return _browse(request, svc, user, folder_id, q or "", info=done_message(done))


@router.post("/vault/folders")
def folder_create(request: Request, svc: ServicesDep, user: Poster, name: Annotated[str, Form()] = "",
                  parent: Annotated[str, Form()] = "") -> Response:
    folder, error = attempt(svc, lambda: svc.vault.folders.create(user.actor, name, parent or None))
    if error is not None:
        return _browse(request, svc, user, _uuid_or_none(parent), status=error.status_code, error=error)
    assert folder is not None
    return see_other(f"/vault/folders/{folder.id}", "folder")


@router.post("/vault/folders/{folder_id}/permissions")
def folder_grant(folder_id: uuid.UUID, request: Request, svc: ServicesDep, user: Poster,
                 principal: Annotated[str, Form()] = "", principal_type: Annotated[str, Form()] = "user",
                 level: Annotated[str, Form()] = "view") -> Response:
    _, error = attempt(svc, lambda: svc.vault.folders.grant(user.actor, principal=principal, level=level,
                                                            folder=folder_id, principal_type=principal_type))
    if error is not None:
        return _browse(request, svc, user, folder_id, status=error.status_code, error=error)
    return see_other(f"/vault/folders/{folder_id}", "granted")


@router.post("/vault/folders/{folder_id}/permissions/revoke")
def folder_revoke(folder_id: uuid.UUID, request: Request, svc: ServicesDep, user: Poster,
                  principal_id: Annotated[str, Form()] = "", principal_type: Annotated[str, Form()] = "user",
                  ) -> Response:
    _, error = attempt(svc, lambda: svc.vault.folders.revoke(user.actor, principal=principal_id, folder=folder_id,
                                                             principal_type=principal_type))
    if error is not None:
        return _browse(request, svc, user, folder_id, status=error.status_code, error=error)
    return see_other(f"/vault/folders/{folder_id}", "revoked")


@router.post("/vault/folders/{folder_id}/inheritance")
def folder_inheritance(folder_id: uuid.UUID, request: Request, svc: ServicesDep, user: Poster,
                       inherit: Annotated[str, Form()] = "") -> Response:
    _, error = attempt(svc, lambda: svc.vault.folders.set_inheritance(user.actor, folder_id, checkbox(inherit)))
    if error is not None:
        return _browse(request, svc, user, folder_id, status=error.status_code, error=error)
    return see_other(f"/vault/folders/{folder_id}", "inheritance")


@router.get("/vault/hardening")
def hardening_page(request: Request, svc: ServicesDep,
                   user: Annotated[WebUser, Depends(page(Permission.REPORTS_READ))]) -> Response:
    return render(templates(), request, "vault/hardening.html", user, report=svc.vault.hardening.report(user.actor))


router.include_router(vault_secrets.router)
router.include_router(vault_secret_actions.router)
router.include_router(vault_admin.router)

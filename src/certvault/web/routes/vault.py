"""Vault pages: secrets you can read (no values on the list), one secret's protection and trail, hardening."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from certvault.api.deps import ServicesDep
from certvault.auth.rbac import Permission
from certvault.web.deps import WebUser, page, render

router = APIRouter(include_in_schema=False)
VaultPage = Annotated[WebUser, Depends(page(Permission.VAULT_USE))]


def _templates():  # type: ignore[no-untyped-def]
    from certvault.web.app import templates

    return templates


@router.get("/vault")
def vault_page(request: Request, svc: ServicesDep, user: VaultPage, q: str | None = None) -> Response:
    rows, total = svc.vault.secrets.search(user.actor, q or None, None, 200, 0)
    return render(_templates(), request, "vault/index.html", user, folders=svc.vault.folders.list(user.actor),
                  secrets=rows, total=total, q=q or "")


@router.get("/vault/secrets/{secret_id}")
def secret_page(secret_id: uuid.UUID, request: Request, svc: ServicesDep, user: VaultPage) -> Response:
    listing = svc.vault.secrets.get(user.actor, secret_id)
    return render(_templates(), request, "vault/secret.html", user, secret=listing.secret, folder=listing.folder,
                  fields=svc.vault.secrets.field_list(listing.secret),
                  checkout=svc.vault.protection.active_checkout(listing.secret),
                  state=svc.vault.reader.state(user.actor, listing.secret, listing.folder),
                  trail=svc.vault.trail(user.actor, secret_id, 50))


@router.get("/vault/hardening")
def hardening_page(request: Request, svc: ServicesDep,
                   user: Annotated[WebUser, Depends(page(Permission.REPORTS_READ))]) -> Response:
    return render(_templates(), request, "vault/hardening.html", user, report=svc.vault.hardening.report(user.actor))

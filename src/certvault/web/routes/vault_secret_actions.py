"""Actions on one secret from its page: check-out/in, protection and lifecycle settings, permissions,
access requests and decisions, DoubleLock, delete. Each refusal shows on the secret page."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from certvault.api.deps import ServicesDep
from certvault.container import Services
from certvault.errors import InvalidInput
from certvault.web.deps import WebUser
from certvault.web.routes.vault_common import Poster, attempt, checkbox, optional_date, optional_int, see_other
from certvault.web.routes.vault_secrets import secret_view

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]


def _act(request: Request, svc: Services, user: WebUser, secret_id: uuid.UUID, action: Callable[[], Any],
         done: str, after: str | None = None) -> Response:
    _, error = attempt(svc, action)
    if error is not None:
        return secret_view(request, svc, user, secret_id, status=error.status_code, error=error)
    return see_other(after or f"/vault/secrets/{secret_id}", done)


@router.post("/vault/secrets/{secret_id}/checkout")
def check_out(secret_id: uuid.UUID, request: Request, svc: ServicesDep, user: Poster, minutes: Text = "") -> Response:
    return _act(request, svc, user, secret_id, lambda: svc.vault.protection.check_out(
        user.actor, secret_id, optional_int(minutes, "the check-out period")), "checked-out")


@router.post("/vault/secrets/{secret_id}/checkin")
def check_in(secret_id: uuid.UUID, request: Request, svc: ServicesDep, user: Poster, force: Text = "") -> Response:
    return _act(request, svc, user, secret_id,
                lambda: svc.vault.protection.check_in(user.actor, secret_id, force=checkbox(force)), "checked-in")


@router.post("/vault/secrets/{secret_id}/settings")
def settings(secret_id: uuid.UUID, request: Request, svc: ServicesDep, user: Poster,
             checkout_enabled: Text = "", checkout_minutes: Text = "", require_approval: Text = "",
             hide_password: Text = "", expires_at: Text = "", rotation_days: Text = "",
             inherit_permissions: Text = "") -> Response:
    """Protection and lifecycle; only what differs from the stored settings is changed (and audited)."""
    done = ["settings"]

    def change() -> None:
        secret = svc.vault.secrets.get(user.actor, secret_id).secret
        wanted: dict[str, Any] = {
            "checkout_enabled": checkbox(checkout_enabled), "require_approval": checkbox(require_approval),
            "hide_password": checkbox(hide_password), "inherit_permissions": checkbox(inherit_permissions),
            "expires_at": optional_date(expires_at, "the expiry date"),
            "rotation_days": optional_int(rotation_days, "the rotation period"),
        }
        minutes = optional_int(checkout_minutes, "the check-out period")
        if minutes is not None:
            wanted["checkout_minutes"] = minutes
        changes = {key: value for key, value in wanted.items() if getattr(secret, key) != value}
        if not changes:
            done[0] = "unchanged"
            return
        svc.vault.protection.update_settings(user.actor, secret_id, **changes)

    _, error = attempt(svc, change)
    if error is not None:
        return secret_view(request, svc, user, secret_id, status=error.status_code, error=error)
    return see_other(f"/vault/secrets/{secret_id}", done[0])


@router.post("/vault/secrets/{secret_id}/permissions")
def grant(secret_id: uuid.UUID, request: Request, svc: ServicesDep, user: Poster, principal: Text = "",
          principal_type: Text = "user", level: Text = "view") -> Response:
    return _act(request, svc, user, secret_id, lambda: svc.vault.folders.grant(
        user.actor, principal=principal, level=level, secret=secret_id, principal_type=principal_type), "granted")


@router.post("/vault/secrets/{secret_id}/permissions/revoke")
def revoke(secret_id: uuid.UUID, request: Request, svc: ServicesDep, user: Poster, principal_id: Text = "",
           principal_type: Text = "user") -> Response:
    return _act(request, svc, user, secret_id, lambda: svc.vault.folders.revoke(
        user.actor, principal=principal_id, secret=secret_id, principal_type=principal_type), "revoked")


@router.post("/vault/secrets/{secret_id}/access-request")
def request_access(secret_id: uuid.UUID, request: Request, svc: ServicesDep, user: Poster, reason: Text = "",
                   minutes: Text = "60") -> Response:
    return _act(request, svc, user, secret_id, lambda: svc.vault.protection.request_access(
        user.actor, secret_id, reason, optional_int(minutes, "the access window") or 60), "requested")


@router.post("/vault/secrets/{secret_id}/requests/{request_id}")
def decide_here(secret_id: uuid.UUID, request_id: uuid.UUID, request: Request, svc: ServicesDep, user: Poster,
                decision: Text = "", comment: Text = "") -> Response:
    def decide() -> None:
        if decision not in ("approve", "deny"):
            raise InvalidInput("choose approve or deny")
        svc.vault.protection.decide(user.actor, request_id, decision == "approve", comment)

    return _act(request, svc, user, secret_id, decide, "decided")


@router.post("/vault/secrets/{secret_id}/doublelock")
def doublelock(secret_id: uuid.UUID, request: Request, svc: ServicesDep, user: Poster, action: Text = "",
               passphrase: Text = "", share_with: Text = "") -> Response:
    ops = svc.vault.doublelock
    actions: dict[str, tuple[Callable[[], Any], str]] = {
        "enable": (lambda: ops.enable(user.actor, secret_id), "dl-enabled"),
        "disable": (lambda: ops.disable(user.actor, secret_id, passphrase), "dl-disabled"),
        "share": (lambda: ops.share(user.actor, secret_id, share_with.strip(), passphrase), "dl-shared"),
    }
    if action not in actions:
        return see_other(f"/vault/secrets/{secret_id}")
    run, done = actions[action]
    return _act(request, svc, user, secret_id, run, done)


@router.post("/vault/secrets/{secret_id}/delete")
def delete(secret_id: uuid.UUID, request: Request, svc: ServicesDep, user: Poster, confirm: Text = "") -> Response:
    folder_id = svc.vault.secrets.get(user.actor, secret_id).folder.id

    def remove() -> None:
        if not checkbox(confirm):
            raise InvalidInput("tick the confirmation box to delete the secret")
        svc.vault.secrets.deactivate(user.actor, secret_id)

    return _act(request, svc, user, secret_id, remove, "deleted", after=f"/vault/folders/{folder_id}")

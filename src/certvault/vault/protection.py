"""Protection settings per secret: check-out (exclusive, timed) and approval for access."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from certvault.auth.rbac import Actor
from certvault.errors import Conflict, Forbidden, InvalidInput, NotFound
from certvault.vault.access import EDIT, OWNER, VIEW, is_vault_admin, need
from certvault.vault.core import VaultCore
from certvault.vault.models import AccessRequest, CheckOut, Secret, VaultPermission

CHECKIN_JOB = "vault.auto_checkin"
MAX_MINUTES = 7 * 24 * 60
SETTING_FIELDS = ("checkout_enabled", "checkout_minutes", "require_approval", "hide_password", "expires_at",
                  "rotation_days", "inherit_permissions")


def holds(checkout: CheckOut, actor: Actor) -> bool:
    """Whether `actor` holds the check-out: people and accounts by id, id-less callers (the CLI) by name."""
    if checkout.user_id is not None or actor.id is not None:
        return checkout.user_id == actor.id
    return checkout.username == actor.name


def held_message(secret: Secret, checkout: CheckOut) -> str:
    return (f"secret {secret.name} is checked out by {checkout.username} until "
            f"{checkout.expires_at:%Y-%m-%d %H:%M} UTC")


def _minutes(value: int, what: str) -> int:
    if not 1 <= value <= MAX_MINUTES:
        raise InvalidInput(f"{what} must be between 1 and {MAX_MINUTES} minutes")
    return value


class ProtectionOps:
    def __init__(self, core: VaultCore) -> None:
        self._c = core

    # ---- settings ----------------------------------------------------------------------------
    def update_settings(self, actor: Actor, ref: str | uuid.UUID, **changes: Any) -> Secret:
        self._c.gate(actor)
        unknown = set(changes) - set(SETTING_FIELDS)
        if unknown:
            raise InvalidInput(f"unknown setting(s): {', '.join(sorted(unknown))}")
        secret, folder = self._c.secret_with_folder(ref, for_update=True)
        self._c.require_secret(actor, secret, folder, OWNER, ref, "secret.settings")
        self.refuse_if_held_by_other(actor, secret, "secret.settings")
        if "checkout_minutes" in changes:
            _minutes(int(changes["checkout_minutes"]), "the check-out period")
        rotation = changes.get("rotation_days")
        if rotation is not None and not 1 <= int(rotation) <= 3650:
            raise InvalidInput("rotation_days must be between 1 and 3650 (or empty for none)")
        expires = changes.get("expires_at")
        if expires is not None and (not isinstance(expires, datetime) or expires.tzinfo is None):
            raise InvalidInput("expires_at must be a date and time with a time zone")
        old = {k: getattr(secret, k) for k in changes}
        for key, value in changes.items():
            setattr(secret, key, value)
        if "expires_at" in changes or "rotation_days" in changes:
            secret.reminded_for = None
        self._c.audit(actor, "secret.settings", secret, changes={k: [str(old[k]), str(v)] for k, v in changes.items()})
        return secret

    # ---- check-out ---------------------------------------------------------------------------
    def active_checkout(self, secret: Secret) -> CheckOut | None:
        if not secret.checkout_enabled:
            return None
        stmt = select(CheckOut).where(CheckOut.secret_id == secret.id, CheckOut.ended_at.is_(None),
                                      CheckOut.expires_at > self._c.ctx.now())
        return self._c.s.scalars(stmt.order_by(CheckOut.started_at.desc())).first()

    def refuse_if_held_by_other(self, actor: Actor, secret: Secret, action: str) -> None:
        """Changes wait for the holder: a clear, audited 409 naming who holds the secret and until when."""
        current = self.active_checkout(secret)
        if current is not None and not holds(current, actor):
            raise self._c.deny(actor, action, secret, held_message(secret, current) + "; it cannot be changed "
                               "until they check it in, the check-out ends or an owner forces the check-in",
                               "RequiresCheckout", error=CheckOutConflict)

    def check_out(self, actor: Actor, ref: str | uuid.UUID | int, minutes: int | None = None, *,
                  automatic: bool = False) -> CheckOut:
        self._c.gate(actor)
        secret, folder = self._c.secret_with_folder(ref, for_update=True)
        self._c.require_secret(actor, secret, folder, VIEW, ref, "secret.checkout")
        return self.check_out_loaded(actor, secret, minutes, automatic=automatic)

    def check_out_loaded(self, actor: Actor, secret: Secret, minutes: int | None = None, *,
                         automatic: bool = False) -> CheckOut:
        if not secret.checkout_enabled:
            raise Conflict(f"check-out is not enabled on secret {secret.name}")
        current = self.active_checkout(secret)
        if current is not None:
            if holds(current, actor):
                return current
            raise self._c.deny(actor, "secret.checkout", secret, held_message(secret, current), "RequiresCheckout",
                               error=CheckOutConflict)
        period = _minutes(minutes or secret.checkout_minutes, "the check-out period")
        now = self._c.ctx.now()
        checkout = CheckOut(id=uuid.uuid4(), secret_id=secret.id, user_id=actor.id, username=actor.name,
                            started_at=now, expires_at=now + timedelta(minutes=period), automatic=automatic)
        self._c.s.add(checkout)
        self._c.s.flush()
        self._c.ctx.enqueue(CHECKIN_JOB, {"checkout_id": str(checkout.id)}, delay=timedelta(minutes=period),
                            dedup_key=f"checkin:{checkout.id}")
        self._c.audit(actor, "secret.checkout", secret, minutes=period, automatic=automatic,
                      until=checkout.expires_at.isoformat())
        return checkout

    def check_in(self, actor: Actor, ref: str | uuid.UUID | int, *, force: bool = False) -> Secret:
        self._c.gate(actor)
        secret, folder = self._c.secret_with_folder(ref, for_update=True)
        level = self._c.require_secret(actor, secret, folder, VIEW, ref, "secret.checkin")
        current = self.active_checkout(secret)
        if current is None:
            raise Conflict(f"secret {secret.name} is not checked out")
        forced = not holds(current, actor)
        if forced and (not force or level < OWNER):
            raise Forbidden(f"secret {secret.name} is checked out by {current.username}; only they or an "
                            "owner (forcing) can check it in")
        current.ended_at, current.end_reason = self._c.ctx.now(), "forced" if forced else "checkin"
        self._c.audit(actor, "secret.checkin", secret, holder=current.username, forced=forced)
        return secret

    def expire_checkout(self, checkout_id: uuid.UUID) -> bool:
        """The automatic check-in at the end of the period (run by a job)."""
        checkout = self._c.s.get(CheckOut, checkout_id)
        if checkout is None or checkout.ended_at is not None:
            return False
        if checkout.expires_at > self._c.ctx.now():
            return False
        checkout.ended_at, checkout.end_reason = checkout.expires_at, "expired"
        secret = self._c.s.get(Secret, checkout.secret_id)
        if secret is not None:
            self._c.audit(Actor.system("auto-checkin"), "secret.checkin", secret, holder=checkout.username,
                          automatic=True)
        return True

    # ---- approval for access -----------------------------------------------------------------
    def active_approval(self, actor: Actor, secret: Secret) -> AccessRequest | None:
        if actor.id is None:
            return None
        stmt = select(AccessRequest).where(
            AccessRequest.secret_id == secret.id, AccessRequest.requester_id == actor.id,
            AccessRequest.status == "approved", AccessRequest.expires_at > self._c.ctx.now())
        return self._c.s.scalars(stmt).first()

    def require_approval(self, actor: Actor, secret: Secret, level: int, action: str) -> None:
        """Reading a secret that requires approval, and changing it, need an approved request (owners do not)."""
        if secret.require_approval and level < OWNER and self.active_approval(actor, secret) is None:
            raise self._c.deny(actor, action, secret, f"secret {secret.name} requires approval for access; "
                               "request access with a reason and wait for an approver", "RequiresApproval")

    def request_access(self, actor: Actor, ref: str | uuid.UUID, reason: str, minutes: int = 60) -> AccessRequest:
        self._c.gate(actor)
        secret, folder = self._c.secret_with_folder(ref)
        self._c.require_secret(actor, secret, folder, VIEW, ref, "secret.access_request")
        if not secret.require_approval:
            raise Conflict(f"secret {secret.name} does not require approval")
        if actor.id is None:
            raise InvalidInput("only users and service accounts can request access")
        reason = reason.strip()
        if len(reason) < 3:
            raise InvalidInput("give a reason for the request (at least 3 characters)")
        request = AccessRequest(secret_id=secret.id, requester_id=actor.id, requester_name=actor.name,
                                reason=reason[:2000], minutes=_minutes(minutes, "the access window"))
        self._c.s.add(request)
        self._c.s.flush()
        self._c.audit(actor, "secret.access_request", secret, request=str(request.id), minutes=minutes)
        self._c.ctx.events.publish(
            "approval.requested", title=f"{actor.name} asks for access to {secret.name}",
            body=f"{actor.name} asks for {minutes} minutes of access to secret {folder.path}/{secret.name}. "
            f"Reason: {reason}", severity="warning", subject=secret.name,
            payload={"secret": f"{folder.path}/{secret.name}", "account": actor.name, "request": request.id})
        return request

    def decide(self, actor: Actor, request_id: uuid.UUID, approve: bool, comment: str = "") -> AccessRequest:
        self._c.gate(actor)
        request = self._c.s.get(AccessRequest, request_id)
        if request is None:
            raise NotFound(f"access request {request_id} not found")
        secret, folder = self._c.secret_with_folder(request.secret_id)
        if self._c.access.secret_level(actor, secret, folder) < VIEW and request.requester_id != actor.id:
            self._c.audit(actor, "secret.access_decision", secret, outcome="denied", reason="no permission")
            raise NotFound(f"access request {request_id} not found", keep_changes=True)
        need(self._c.access.secret_level(actor, secret, folder), OWNER, f"secret {secret.name} (approvers own it)")
        if request.requester_id == actor.id:
            raise Forbidden("you cannot approve your own request")
        if request.status != "pending":
            raise Conflict(f"the request is already {request.status}")
        now = self._c.ctx.now()
        request.status = "approved" if approve else "denied"
        request.decided_by, request.decided_at, request.decision_comment = actor.name, now, comment or None
        if approve:
            request.expires_at = now + timedelta(minutes=request.minutes)
        self._c.audit(actor, "secret.access_" + request.status, secret, request=str(request.id),
                      requester=request.requester_name)
        self._c.ctx.events.publish(
            "approval.decided", title=f"Access to {secret.name} {request.status} for {request.requester_name}",
            body=f"{actor.name} {request.status} the request of {request.requester_name}."
            + (f" Comment: {comment}" if comment else ""), subject=secret.name,
            payload={"secret": f"{folder.path}/{secret.name}", "account": request.requester_name,
                     "request": request.id})
        return request

    def list_requests(self, actor: Actor, status: str | None = None) -> list[AccessRequest]:
        """Your own requests, plus the ones you can decide (secrets you own)."""
        self._c.gate(actor)
        stmt = select(AccessRequest).order_by(AccessRequest.created_at.desc()).limit(500)
        if status:
            stmt = stmt.where(AccessRequest.status == status)
        rows = list(self._c.s.scalars(stmt))
        if is_vault_admin(actor):
            return rows
        visible = []
        for row in rows:
            if row.requester_id == actor.id:
                visible.append(row)
                continue
            try:
                secret, folder = self._c.secret_with_folder(row.secret_id)
            except NotFound:  # the secret was deleted since
                continue
            if self._c.access.secret_level(actor, secret, folder) >= OWNER:
                visible.append(row)
        return visible

    def owners_exist(self, secret: Secret) -> bool:
        stmt = select(VaultPermission.id).where(VaultPermission.secret_id == secret.id,
                                                VaultPermission.level == "owner")
        return self._c.s.scalar(stmt) is not None


class CheckOutConflict(Forbidden):
    """Checked out by someone else: a conflict, shown as 409."""

    status_code = 409
    code = "conflict"


__all__ = ["EDIT", "ProtectionOps"]

"""Reading secret values: the one gate every view, copy, export, API read and integration use passes.

Order of checks (Secret Server's): permission, approval, DoubleLock, check-out; then hidden
passwords are withheld from display. Every outcome, refusals included, is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from certvault.auth.rbac import Actor
from certvault.db.session import READ_ONLY, NeedsTransaction
from certvault.errors import NotFound
from certvault.vault.access import OWNER, VIEW
from certvault.vault.core import VaultCore
from certvault.vault.doublelock_ops import DoubleLockOps
from certvault.vault.fieldstore import FieldStore, FieldValue
from certvault.vault.models import CheckOut, DoubleLockGrant, Folder, Secret, SecretField, ServiceAccountSettings
from certvault.vault.protection import CheckOutConflict, ProtectionOps, holds

ACTIONS = {"view": "secret.view", "copy": "secret.copy", "export": "secret.export", "use": "secret.use"}


@dataclass
class SecretRead:
    secret: Secret
    folder: Folder
    level: int
    values: list[FieldValue]
    withheld: list[str] = field(default_factory=list)  # hidden-password slugs not returned
    checkout: CheckOut | None = None


class Reader:
    def __init__(self, core: VaultCore, store: FieldStore, dlock: DoubleLockOps, protection: ProtectionOps) -> None:
        self._c = core
        self._store = store
        self._dlock = dlock
        self._protection = protection

    def state(self, actor: Actor, secret: Secret, folder: Folder) -> str:
        """Secret Server's secretState for this caller, without side effects."""
        level = self._c.access.secret_level(actor, secret, folder)
        if level < VIEW:
            return "CannotView"
        if secret.require_approval and level < OWNER and self._protection.active_approval(actor, secret) is None:
            return "RequiresApproval"
        if secret.double_lock:
            if actor.kind == "service" or actor.id is None:
                return "DoubleLockNoAccess"
            if not self._dlock.has_passphrase(actor.id):
                return "CreateDoubleLockPassword"
            if self._c.s.get(DoubleLockGrant, (secret.id, actor.id)) is None:
                return "DoubleLockNoAccess"
            return "RequiresDoubleLockPassword"
        checkout = self._protection.active_checkout(secret)
        if secret.checkout_enabled and (checkout is None or not holds(checkout, actor)):
            return "RequiresCheckout"
        return "None"

    def read(self, actor: Actor, ref: str | uuid.UUID | int | None = None, *, path: str | None = None,
             passphrase: str | None = None, auto_checkout: bool = False, slug: str | None = None,
             purpose: str = "view", show_hidden: bool = False) -> SecretRead:
        self._c.gate(actor)
        fields: list[SecretField] | None = None
        if path is not None:
            secret, folder = self._c.secret_by_path(path)
        else:
            secret, folder, fields = self._c.secret_with_fields(ref or "")
        action = ACTIONS[purpose] if slug is None else ACTIONS[purpose] + "_field"
        level = self._c.require_secret(actor, secret, folder, VIEW, path if path is not None else ref, action)
        if (secret.require_approval or secret.double_lock or secret.checkout_enabled) and self._c.s.info.get(READ_ONLY):
            raise NeedsTransaction("approval, DoubleLock and check-out are decided in a write transaction")
        self._protection.require_approval(actor, secret, level, action)
        dl_key = self._dlock.secret_key(actor, secret, passphrase, action) if secret.double_lock else None
        checkout = self._check_out_if_needed(actor, secret, action, auto_checkout or actor.kind == "service")
        if secret.checkout_enabled:
            fields = None  # read again once the check-out (and on PostgreSQL its row lock) is ours
        values, withheld = self._values(actor, secret, slug, dl_key, show_hidden, action, fields)
        self._c.audit(actor, action, secret, fields=[v.slug for v in values], withheld=withheld or None,
                      via=actor.via, folder=folder)
        return SecretRead(secret, folder, level, values, withheld, checkout)

    def _check_out_if_needed(self, actor: Actor, secret: Secret, action: str, automatic: bool) -> CheckOut | None:
        if not secret.checkout_enabled:
            return None
        current = self._protection.active_checkout(secret)
        if current is not None and holds(current, actor):
            return current
        if current is None and automatic:
            self._c.secret_with_folder(secret.id, for_update=True)  # row lock: one winner on PostgreSQL
            return self._protection.check_out_loaded(actor, secret, automatic=True)
        if current is not None:
            return self._protection.check_out_loaded(actor, secret)  # raises: held by someone else
        raise self._c.deny(actor, action, secret, f"secret {secret.name} requires check-out; check it out first",
                           "RequiresCheckout", error=CheckOutConflict)

    def _values(self, actor: Actor, secret: Secret, slug: str | None, dl_key: bytes | None, show_hidden: bool,
                action: str, fields: list[SecretField] | None) -> tuple[list[FieldValue], list[str]]:
        values, withheld = [], []
        if fields is None:
            fields = self._store.fields(secret.id)
        if slug is not None:
            fields = [f for f in fields if f.slug == slug]
            if not fields:
                raise NotFound(f"secret {secret.name} has no field {slug!r}")
        may_see_hidden = show_hidden or not secret.hide_password or self._may_view_hidden(actor)
        for item in fields:
            if item.is_secret and not may_see_hidden:
                withheld.append(item.slug)
                continue
            values.append(self._store.value(item, dl_key))
        if slug is not None and withheld:
            raise self._c.deny(actor, action, secret, f"the password of secret {secret.name} is hidden: it can be "
                               "used by integrations but not displayed", "HiddenPassword")
        return values, withheld

    def _may_view_hidden(self, actor: Actor) -> bool:
        if actor.kind != "service" or actor.id is None:
            return False
        settings = self._c.s.get(ServiceAccountSettings, actor.id)
        return bool(settings and settings.view_hidden)


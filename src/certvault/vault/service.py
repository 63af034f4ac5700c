"""The vault's operations, grouped by concern; the facade the container builds per transaction.

    svc.vault.folders      folders, grants (view/edit/owner) and inheritance
    svc.vault.secrets      create, change, list, search, history
    svc.vault.reader       reading values through every protection (the one read gate)
    svc.vault.protection   settings, check-out/in, approval for access
    svc.vault.doublelock   DoubleLock passphrases and locked secrets
    svc.vault.accounts     service accounts
    svc.vault.lifecycle    due dates and reminders
    svc.vault.hardening    the security hardening report
"""

from __future__ import annotations

import uuid
from functools import cached_property
from typing import TYPE_CHECKING

from certvault.audit.models import AuditEvent
from certvault.auth.rbac import Actor
from certvault.context import ServiceContext
from certvault.errors import Forbidden, NotFound
from certvault.vault import passwords
from certvault.vault.access import VIEW
from certvault.vault.core import VaultCore, VaultPeers, normalize_path
from certvault.vault.doublelock_ops import DoubleLockOps
from certvault.vault.fieldstore import FieldStore
from certvault.vault.lifecycle import Lifecycle
from certvault.vault.models import Folder
from certvault.vault.protection import ProtectionOps
from certvault.vault.reading import Reader
from certvault.vault.secrets import SecretOps

if TYPE_CHECKING:  # imported by their properties: they read auth's models, which most commands never load
    from certvault.vault.accounts import ServiceAccountOps
    from certvault.vault.folders import FolderOps
    from certvault.vault.hardening import Hardening

SYSTEM_ACTOR = "certvault"


class VaultService:
    def __init__(self, ctx: ServiceContext, peers: VaultPeers) -> None:
        self.core = VaultCore(ctx, peers)

    @cached_property
    def store(self) -> FieldStore:
        return FieldStore(self.core)

    @cached_property
    def folders(self) -> FolderOps:
        from certvault.vault.folders import FolderOps

        return FolderOps(self.core)

    @cached_property
    def doublelock(self) -> DoubleLockOps:
        return DoubleLockOps(self.core, self.store, self.protection)

    @cached_property
    def secrets(self) -> SecretOps:
        return SecretOps(self.core, self.store, self.doublelock, self.protection)

    @cached_property
    def protection(self) -> ProtectionOps:
        return ProtectionOps(self.core)

    @cached_property
    def reader(self) -> Reader:
        return Reader(self.core, self.store, self.doublelock, self.protection)

    @cached_property
    def accounts(self) -> ServiceAccountOps:
        from certvault.vault.accounts import ServiceAccountOps

        return ServiceAccountOps(self.core, self.folders)

    @cached_property
    def lifecycle(self) -> Lifecycle:
        return Lifecycle(self.core)

    @cached_property
    def hardening(self) -> Hardening:
        from certvault.vault.hardening import Hardening

        return Hardening(self.core, self.lifecycle)

    def generate_password(self, actor: Actor, policy: dict[str, object] | None = None) -> str:
        self.core.gate(actor)
        base = self.secrets.policy()
        chosen = passwords.PasswordPolicy.from_setting({**base.__dict__, **(policy or {})}) if policy else base
        return passwords.generate(chosen)

    def trail(self, actor: Actor, ref: str | uuid.UUID, limit: int = 200) -> list[AuditEvent]:
        """A secret's own audit trail, for anyone who can view the secret."""
        listing = self.secrets.get(actor, ref)
        if listing.level < VIEW:
            raise Forbidden("you have no permission on this secret")
        return self.core.ctx.audit.trail("secret", listing.secret.id, limit)

    # ---- for certvault's own integrations (DNS keys, help-desk logins, EAB keys, ...) ----------
    def create_system_secret(self, actor: Actor, *, folder_path: str, name: str, template: str,
                             fields: dict[str, str]) -> uuid.UUID:
        """Store a credential an integration uses; the folder path is created when missing."""
        folder = self._ensure_folder_path(actor, folder_path)
        secret = self.secrets.create(actor, folder.id, name, template, fields, system=True)
        return secret.id

    def resolve_field(self, secret_id: uuid.UUID, slug: str, *, purpose: str) -> str:
        """The value of one field for certvault itself (works for hidden passwords; audited as a use)."""
        actor = Actor.system(f"{SYSTEM_ACTOR}:{purpose}"[:150])
        read = self.reader.read(actor, secret_id, slug=slug, purpose="use", show_hidden=True)
        if not read.values:
            raise NotFound(f"secret {secret_id} has no field {slug!r}")
        return read.values[0].text

    def _ensure_folder_path(self, actor: Actor, folder_path: str) -> Folder:
        parts = normalize_path(folder_path).split("/")
        if not parts or not parts[0]:
            raise NotFound("a folder path is needed, e.g. 'Integrations/DNS'")
        parent: Folder | None = None
        for depth in range(len(parts)):
            path = "/".join(parts[: depth + 1])
            try:
                parent = self.core.folder(path)
            except NotFound:
                parent = self.folders.create(actor, parts[depth], parent.id if parent else None)
        assert parent is not None  # parts is not empty
        return parent

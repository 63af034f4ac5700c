"""Service accounts (e.g. a scanner appliance): read-only on chosen folders, IP allowlist, alerts."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from certvault.auth.rbac import Actor, Permission, Role, require
from certvault.errors import InvalidInput
from certvault.vault.core import VaultCore
from certvault.vault.folders import FolderOps
from certvault.vault.models import ServiceAccountSettings, VaultPermission

if TYPE_CHECKING:  # loaded where service accounts are listed: a command that never does skips auth's models
    from certvault.auth.models import User

ALERT_EVENTS = ("service_account.login_failed", "service_account.locked")


@dataclass
class ServiceAccountInfo:
    user: User
    settings: ServiceAccountSettings | None
    folders: list[str]


class ServiceAccountOps:
    def __init__(self, core: VaultCore, folders: FolderOps) -> None:
        self._c = core
        self._folders = folders

    def create(self, actor: Actor, name: str, folders: Iterable[str | uuid.UUID], *,
               allowed_networks: Iterable[str] = (), description: str = "", view_hidden: bool = False,
               alert_channels: Iterable[str] = ()) -> tuple[User, str]:
        """Create the account with a generated password (returned once) and view on each folder."""
        require(actor, Permission.USERS_MANAGE)
        targets = [self._c.folder(ref) for ref in folders]
        if not targets:
            raise InvalidInput("a service account needs at least one folder it may read")
        user, password = self._c.auth.create_user(actor, name, Role.USER.value, kind="service",
                                                  allowed_networks=allowed_networks)
        assert password is not None
        self._c.s.add(ServiceAccountSettings(user_id=user.id, description=description[:500],
                                             view_hidden=view_hidden, created_by=actor.name))
        for folder in targets:
            self._c.s.add(VaultPermission(folder_id=folder.id, principal_type="user", principal_id=user.id,
                                          level="view", granted_by=actor.name))
        for channel in alert_channels:
            for event in ALERT_EVENTS:
                self._c.notifications.subscribe(actor, channel, event, subject=user.username)
        self._c.s.flush()
        self._c.ctx.audit.record(actor, "vault.service_account_create", target_type="user", target_id=user.id,
                                 details={"username": user.username, "folders": [f.path for f in targets],
                                          "allowed_networks": user.allowed_networks, "view_hidden": view_hidden})
        return user, password

    def list_accounts(self, actor: Actor) -> list[ServiceAccountInfo]:
        require(actor, Permission.USERS_READ)
        from certvault.auth.models import User

        users = self._c.s.scalars(select(User).where(User.kind == "service").order_by(User.username))
        return [self.info(u) for u in users]

    def info(self, user: User) -> ServiceAccountInfo:
        from certvault.vault.models import Folder

        paths = self._c.s.scalars(select(Folder.path).join(VaultPermission, VaultPermission.folder_id == Folder.id)
                                  .where(VaultPermission.principal_type == "user",
                                         VaultPermission.principal_id == user.id).order_by(Folder.path))
        return ServiceAccountInfo(user, self._c.s.get(ServiceAccountSettings, user.id), list(paths))

    def update(self, actor: Actor, name: str, *, view_hidden: bool | None = None,
               allowed_networks: Iterable[str] | None = None) -> ServiceAccountInfo:
        require(actor, Permission.USERS_MANAGE)
        user = self._c.auth.get_user(actor, name)
        if user.kind != "service":
            raise InvalidInput(f"{name} is not a service account")
        if allowed_networks is not None:
            self._c.auth.update_user(actor, user.id, allowed_networks=allowed_networks)
        settings = self._c.s.get(ServiceAccountSettings, user.id)
        if settings is None:
            settings = ServiceAccountSettings(user_id=user.id, created_by=actor.name)
            self._c.s.add(settings)
        if view_hidden is not None:
            settings.view_hidden = view_hidden
            self._c.ctx.audit.record(actor, "vault.service_account_update", target_type="user", target_id=user.id,
                                     details={"view_hidden": view_hidden})
        self._c.s.flush()
        return self.info(user)

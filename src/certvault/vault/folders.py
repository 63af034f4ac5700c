"""Folders and the grants on folders and secrets (view, edit, owner) to users and groups."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute

from certvault.auth.models import Group, User
from certvault.auth.rbac import Actor
from certvault.errors import Conflict, InvalidInput, NotFound
from certvault.vault.access import NAMES, OWNER, VIEW, is_vault_admin, need, parse_level
from certvault.vault.core import VaultCore, check_name
from certvault.vault.models import Folder, Secret, VaultPermission

_Principal = TypeVar("_Principal", User, Group)


@dataclass
class FolderListing:
    folder: Folder
    level: str


@dataclass
class GrantInfo:
    id: uuid.UUID
    principal_type: str
    principal: str
    principal_id: uuid.UUID
    level: str
    inherited_from: str | None  # folder path when the grant comes from a parent


class FolderOps:
    def __init__(self, core: VaultCore) -> None:
        self._c = core

    def create(self, actor: Actor, name: str, parent: str | uuid.UUID | None = None) -> Folder:
        self._c.gate(actor)
        name = check_name(name, "folder")
        parent_folder = self._c.folder(parent) if parent else None
        if parent_folder is None:
            need(OWNER if is_vault_admin(actor) else 0, OWNER, "the vault root (administrators create top folders)")
        else:
            self._c.require_folder(actor, parent_folder, OWNER, parent, "vault.folder_create")
        path = f"{parent_folder.path}/{name}" if parent_folder else name
        if self._c.s.scalar(select(Folder.id).where(Folder.path == path)):
            raise Conflict(f"folder {path} already exists")
        folder = Folder(id=uuid.uuid4(), number=self._c.next_number(Folder), name=name, path=path,
                        parent_id=parent_folder.id if parent_folder else None, created_by=actor.name)
        folder.lineage = f"{parent_folder.lineage}/{folder.id}" if parent_folder else str(folder.id)
        self._c.s.add(folder)
        self._c.s.flush()
        self._c.audit(actor, "vault.folder_create", folder=folder)
        return folder

    def list_folders(self, actor: Actor) -> list[FolderListing]:
        self._c.gate(actor)
        readable = self._c.access.readable_folders(actor)
        folders = self._c.s.scalars(select(Folder).order_by(Folder.path))
        if readable is None:
            return [FolderListing(f, "owner") for f in folders]
        return [FolderListing(f, NAMES[readable[f.id]]) for f in folders if f.id in readable]

    def get(self, actor: Actor, ref: str | uuid.UUID) -> tuple[Folder, str]:
        self._c.gate(actor)
        folder = self._c.folder(ref)
        return folder, NAMES[self._c.require_folder(actor, folder, VIEW, ref, "vault.folder_view")]

    def children(self, folder: Folder) -> list[Folder]:
        return list(self._c.s.scalars(select(Folder).where(Folder.parent_id == folder.id).order_by(Folder.name)))

    def set_inheritance(self, actor: Actor, ref: str | uuid.UUID, inherit: bool) -> Folder:
        self._c.gate(actor)
        folder = self._c.folder(ref)
        self._c.require_folder(actor, folder, OWNER, ref, "vault.folder_inheritance")
        folder.inherit_permissions = inherit
        self._c.audit(actor, "vault.folder_inheritance", folder=folder, inherit=inherit)
        return folder

    # ---- grants ------------------------------------------------------------------------------
    def grant(self, actor: Actor, *, principal: str, level: str, folder: str | uuid.UUID | None = None,
              secret: str | uuid.UUID | None = None, principal_type: str | None = None) -> VaultPermission:
        self._c.gate(actor)
        level = parse_level(level)
        target_folder, target_secret = self._target(actor, folder, secret)
        kind, pid, display = self.resolve_principal(principal, principal_type)
        column = VaultPermission.folder_id if target_folder else VaultPermission.secret_id
        target_id = target_folder.id if target_folder else target_secret.id  # type: ignore[union-attr]
        row = self._c.s.scalar(select(VaultPermission).where(column == target_id,
                                                             VaultPermission.principal_type == kind,
                                                             VaultPermission.principal_id == pid))
        if row is None:
            row = VaultPermission(folder_id=target_folder.id if target_folder else None,
                                  secret_id=target_secret.id if target_secret else None,
                                  principal_type=kind, principal_id=pid, level=level, granted_by=actor.name)
            self._c.s.add(row)
        row.level = level
        self._c.s.flush()
        self._audit_grant(actor, "vault.grant", target_folder, target_secret, kind, display, level)
        return row

    def revoke(self, actor: Actor, *, principal: str, folder: str | uuid.UUID | None = None,
               secret: str | uuid.UUID | None = None, principal_type: str | None = None) -> None:
        self._c.gate(actor)
        target_folder, target_secret = self._target(actor, folder, secret)
        kind, pid, display = self.resolve_principal(principal, principal_type)
        column = VaultPermission.folder_id if target_folder else VaultPermission.secret_id
        target_id = target_folder.id if target_folder else target_secret.id  # type: ignore[union-attr]
        row = self._c.s.scalar(select(VaultPermission).where(column == target_id,
                                                             VaultPermission.principal_type == kind,
                                                             VaultPermission.principal_id == pid))
        if row is None:
            raise NotFound(f"{kind} {display} has no permission there to revoke")
        self._c.s.delete(row)
        self._audit_grant(actor, "vault.revoke", target_folder, target_secret, kind, display, row.level)

    def grants(self, actor: Actor, folder: str | uuid.UUID | None = None,
               secret: str | uuid.UUID | None = None) -> list[GrantInfo]:
        """Explicit and inherited grants on a folder or a secret (needs view on it)."""
        self._c.gate(actor)
        if secret is not None:
            sec, fold = self._c.secret_with_folder(secret)
            self._c.require_secret(actor, sec, fold, VIEW, secret, "vault.grants")
            rows = self._grant_rows(VaultPermission.secret_id == sec.id, None)
            if sec.inherit_permissions:
                rows += self._folder_grants(fold, from_secret=True)
            return rows
        fold = self._c.folder(folder or "")
        self._c.require_folder(actor, fold, VIEW, folder, "vault.grants")
        return self._folder_grants(fold)

    def _folder_grants(self, folder: Folder, from_secret: bool = False) -> list[GrantInfo]:
        """Grants that apply to the folder; seen from a secret in it, even the folder's own are inherited."""
        rows: list[GrantInfo] = []
        for fid in self._c.access.contributing_folders(folder):
            own = fid == folder.id and not from_secret
            source = None if own else self._c.s.get(Folder, fid).path  # type: ignore[union-attr]
            rows += self._grant_rows(VaultPermission.folder_id == fid, source)
        return rows

    def _grant_rows(self, condition: ColumnElement[bool], inherited_from: str | None) -> list[GrantInfo]:
        result = []
        for row in self._c.s.scalars(select(VaultPermission).where(condition)):
            result.append(GrantInfo(row.id, row.principal_type, self._principal_name(row), row.principal_id,
                                    row.level, inherited_from))
        return result

    def _principal_name(self, row: VaultPermission) -> str:
        is_user = row.principal_type == "user"
        name_column, id_column = (User.username, User.id) if is_user else (Group.name, Group.id)
        name = self._c.s.scalar(select(name_column).where(id_column == row.principal_id))
        return str(name or row.principal_id)

    def _target(self, actor: Actor, folder: str | uuid.UUID | None,
                secret: str | uuid.UUID | None) -> tuple[Folder | None, Secret | None]:
        if (folder is None) == (secret is None):
            raise InvalidInput("give exactly one of a folder or a secret")
        if folder is not None:
            target = self._c.folder(folder)
            self._c.require_folder(actor, target, OWNER, folder, "vault.grant")
            return target, None
        sec, fold = self._c.secret_with_folder(secret)  # type: ignore[arg-type]
        self._c.require_secret(actor, sec, fold, OWNER, secret, "vault.grant")
        return None, sec

    def resolve_principal(self, ref: str, kind: str | None = None) -> tuple[str, uuid.UUID, str]:
        """A user or group by id or name: 'alice', 'group:scanners', or a UUID."""
        ref = ref.strip()
        if ref.startswith(("user:", "group:")):
            kind, _, ref = ref.partition(":")
        if kind not in (None, "user", "group"):
            raise InvalidInput("principal type must be user or group")
        for candidate in ("user", "group") if kind is None else (kind,):
            found = (self._principal(User, User.username, ref) if candidate == "user"
                     else self._principal(Group, Group.name, ref))
            if found is not None:
                return candidate, found.id, ref
        raise NotFound(f"no user or group named {ref!r}")

    def _principal(self, model: type[_Principal], name_column: InstrumentedAttribute[str],
                   ref: str) -> _Principal | None:
        try:
            return self._c.s.get(model, uuid.UUID(ref))
        except ValueError:
            return self._c.s.scalar(select(model).where(name_column == ref))

    def _audit_grant(self, actor: Actor, action: str, folder: Folder | None, secret: Secret | None,
                     kind: str, display: str, level: str) -> None:
        principal = f"{kind}:{display}"
        if secret is not None:
            self._c.audit(actor, action, secret, principal=principal, level=level)
        else:
            self._c.audit(actor, action, folder=folder, principal=principal, level=level)

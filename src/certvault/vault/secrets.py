"""Creating, changing, listing and searching secrets; password history."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import false, or_, select

from certvault.auth.rbac import Actor
from certvault.db.search import contains
from certvault.errors import Conflict, InvalidInput, NotFound
from certvault.filenames import clean_filename
from certvault.vault import passwords, templates
from certvault.vault.access import EDIT, OWNER, VIEW, is_vault_admin
from certvault.vault.core import VaultCore, check_name
from certvault.vault.doublelock_ops import DoubleLockOps
from certvault.vault.fieldstore import FieldStore
from certvault.vault.models import Folder, Secret, SecretField, SecretHistory, VaultPermission
from certvault.vault.protection import ProtectionOps

FileInput = tuple[str, bytes]  # (filename, content)
Values = dict[str, tuple[bytes, str | None]]  # slug -> (data, filename for files)


@dataclass
class HistoryEntry:
    slug: str
    version: int
    value: str
    replaced_at: datetime
    replaced_by: str


@dataclass
class SecretListing:
    secret: Secret
    folder: Folder
    level: int


class SecretOps:
    def __init__(self, core: VaultCore, store: FieldStore, dlock: DoubleLockOps, protection: ProtectionOps) -> None:
        self._c = core
        self._store = store
        self._dlock = dlock
        self._protection = protection

    def policy(self) -> passwords.PasswordPolicy:
        return passwords.PasswordPolicy.from_setting(self._c.system.get("vault.password_policy"))

    # ---- create ------------------------------------------------------------------------------
    def create(self, actor: Actor, folder_ref: str | uuid.UUID, name: str, template: str,
               fields: Mapping[str, str], files: Mapping[str, FileInput] | None = None, *,
               generate_password: bool = False, system: bool = False, **settings: object) -> Secret:
        self._c.gate(actor)
        folder = self._c.folder(folder_ref)
        self._c.require_folder(actor, folder, EDIT, folder_ref, "secret.create")
        name = check_name(name, "secret")
        templates.template_fields(template)
        if self._c.s.scalar(select(Secret.id).where(Secret.folder_id == folder.id, Secret.name == name,
                                                     Secret.active.is_(True))):
            raise Conflict(f"a secret named {name!r} already exists in {folder.path}")
        values = self._collect(template, fields, files or {})
        if generate_password and "password" not in values:
            values["password"] = (passwords.generate(self.policy()).encode(), None)
        templates.check_required(template, set(values))
        secret = Secret(id=uuid.uuid4(), number=self._c.next_number(Secret), folder_id=folder.id, name=name,
                        template=template, created_by=actor.name, system=system, rotated_at=self._c.ctx.now())
        self._apply_settings(secret, settings)
        self._c.s.add(secret)
        self._c.s.flush()
        for position, (slug, (data, filename)) in enumerate(self._ordered(template, values)):
            spec = templates.spec_for(template, slug)
            item = SecretField(id=uuid.uuid4(), secret_id=secret.id, slug=slug, name=spec.name, position=position,
                               is_secret=spec.is_secret or filename is not None, is_file=filename is not None,
                               filename=filename)
            self._store.write(item, data, None)
            self._c.s.add(item)
        if actor.kind == "user" and actor.id is not None:  # the creator owns what they made
            self._c.s.add(VaultPermission(secret_id=secret.id, principal_type="user", principal_id=actor.id,
                                          level="owner", granted_by=actor.name))
        self._c.s.flush()
        self._c.audit(actor, "secret.create", secret, folder=folder, template=template,
                      fields=sorted(values))
        return secret

    def _collect(self, template: str, fields: Mapping[str, str],
                 files: Mapping[str, FileInput]) -> Values:
        values: Values = {}
        for slug, value in fields.items():
            spec = templates.spec_for(template, slug)
            templates.check_value(spec, value, is_file=False)
            if slug == "password":
                passwords.check(self.policy(), value)
            values[slug] = (value.encode(), None)
        for slug, (filename, content) in files.items():
            spec = templates.spec_for(template, slug)
            templates.check_value(spec, content, is_file=True)
            if slug in values:
                raise InvalidInput(f"field {slug} was given both as a value and as a file")
            values[slug] = (content, clean_filename(filename, slug))
        return values

    @staticmethod
    def _ordered(template: str, values: Values) -> list[tuple[str, tuple[bytes, str | None]]]:
        order = [s.slug for s in templates.template_fields(template)]
        return sorted(values.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0]))

    def _apply_settings(self, secret: Secret, settings: Mapping[str, object]) -> None:
        allowed = {"expires_at", "rotation_days", "checkout_enabled", "checkout_minutes", "require_approval",
                   "hide_password"}
        for key, value in settings.items():
            if key not in allowed:
                raise InvalidInput(f"unknown secret setting {key!r}")
            if value is not None:
                setattr(secret, key, value)

    # ---- update ------------------------------------------------------------------------------
    def update(self, actor: Actor, ref: str | uuid.UUID, *, fields: Mapping[str, str] | None = None,
               files: Mapping[str, FileInput] | None = None, name: str | None = None,
               passphrase: str | None = None, generate_password: bool = False) -> Secret:
        self._c.gate(actor)
        secret, folder = self._c.secret_with_folder(ref, for_update=True)
        level = self._c.require_secret(actor, secret, folder, EDIT, ref, "secret.edit")
        self._protection.require_approval(actor, secret, level, "secret.edit")  # changes need what reads need
        self._protection.refuse_if_held_by_other(actor, secret, "secret.edit")
        values = self._collect(secret.template, fields or {}, files or {})
        if generate_password:
            values["password"] = (passwords.generate(self.policy()).encode(), None)
        # Every refusal comes before the first change, so a refused edit stores nothing but its audit row.
        dl_key = None
        if values and secret.double_lock:
            dl_key = self._dlock.secret_key(actor, secret, passphrase, "secret.edit")
        if name is not None and name.strip() != secret.name:
            self._rename(secret, folder, name)
        if not values:
            self._c.audit(actor, "secret.edit", secret, fields=[])
            return secret
        existing = {f.slug: f for f in self._store.fields(secret.id)}
        rotated = False
        for slug, (data, filename) in values.items():
            spec = templates.spec_for(secret.template, slug)
            item = existing.get(slug)
            if item is None:
                item = SecretField(id=uuid.uuid4(), secret_id=secret.id, slug=slug, name=spec.name,
                                   position=len(existing), is_secret=spec.is_secret or filename is not None)
                self._c.s.add(item)
                existing[slug] = item
            else:
                self._store.remember(secret, item, actor.name)
            item.is_file, item.filename = filename is not None, filename
            item.is_secret = item.is_secret or filename is not None
            self._store.write(item, data, dl_key if item.is_secret else None)
            rotated = rotated or item.is_secret
        secret.version += 1
        if rotated:
            secret.rotated_at, secret.reminded_for = self._c.ctx.now(), None
        self._c.audit(actor, "secret.edit", secret, fields=sorted(values), version=secret.version)
        return secret

    def _rename(self, secret: Secret, folder: Folder, name: str) -> None:
        name = check_name(name, "secret")
        if self._c.s.scalar(select(Secret.id).where(Secret.folder_id == folder.id, Secret.name == name,
                                                     Secret.id != secret.id, Secret.active.is_(True))):
            raise Conflict(f"a secret named {name!r} already exists in {folder.path}")
        secret.name = name

    def deactivate(self, actor: Actor, ref: str | uuid.UUID) -> Secret:
        self._c.gate(actor)
        secret, folder = self._c.secret_with_folder(ref, for_update=True)
        self._c.require_secret(actor, secret, folder, OWNER, ref, "secret.delete")
        self._protection.refuse_if_held_by_other(actor, secret, "secret.delete")
        secret.active = False
        self._c.audit(actor, "secret.delete", secret)
        return secret

    # ---- read metadata, list, search ---------------------------------------------------------
    def get(self, actor: Actor, ref: str | uuid.UUID | int) -> SecretListing:
        self._c.gate(actor)
        secret, folder = self._c.secret_with_folder(ref)
        level = self._c.require_secret(actor, secret, folder, VIEW, ref, "secret.metadata")
        return SecretListing(secret, folder, level)

    def field_list(self, secret: Secret) -> list[SecretField]:
        return self._store.fields(secret.id)

    def search(self, actor: Actor, text: str | None = None, folder: str | uuid.UUID | int | None = None,
               limit: int = 100, offset: int = 0) -> tuple[list[SecretListing], int]:
        """Secrets the caller can at least view, by name (and folder), newest names first."""
        self._c.gate(actor)
        stmt = (select(Secret, Folder).join(Folder, Secret.folder_id == Folder.id)
                .where(Secret.active.is_(True)).order_by(Folder.path, Secret.name))
        if text:
            stmt = stmt.where(contains(Secret.name, text.strip(), ignore_case=True))
        if folder is not None:
            try:
                stmt = stmt.where(Secret.folder_id == self._c.folder(folder).id)
            except NotFound:
                if is_vault_admin(actor):
                    raise
                return [], 0  # a folder that does not exist holds nothing, like one they cannot see into
        readable = self._c.access.readable_folders(actor)
        if readable is None:
            rows = [SecretListing(s, f, OWNER) for s, f in self._c.s.execute(stmt)]
        else:
            direct = self._c.access.direct_secret_grants(actor)
            stmt = stmt.where(or_(Secret.folder_id.in_(list(readable)) if readable else false(),
                                  Secret.id.in_(list(direct)) if direct else false()))
            rows = []
            for secret, fold in self._c.s.execute(stmt):
                inherited = readable.get(fold.id, 0) if secret.inherit_permissions else 0
                level = max(inherited, direct.get(secret.id, 0))
                if level >= VIEW:
                    rows.append(SecretListing(secret, fold, level))
        return rows[offset:offset + min(limit, 1000)], len(rows)

    # ---- history -----------------------------------------------------------------------------
    def history(self, actor: Actor, ref: str | uuid.UUID, passphrase: str | None = None) -> list[HistoryEntry]:
        self._c.gate(actor)
        secret, folder = self._c.secret_with_folder(ref)
        if self._c.require_secret(actor, secret, folder, VIEW, ref, "secret.history") < OWNER:
            raise self._c.deny(actor, "secret.history", secret, "only owners can see earlier values of "
                               f"secret {secret.name}", "CannotView")
        dl_key = self._dlock.secret_key(actor, secret, passphrase, "secret.history") if secret.double_lock else None
        field_ids = {f.slug: f.id for f in self._store.fields(secret.id)}
        entries = self._c.s.scalars(select(SecretHistory).where(SecretHistory.secret_id == secret.id)
                                    .order_by(SecretHistory.version.desc(), SecretHistory.slug))
        result = [HistoryEntry(e.slug, e.version,
                               self._store.read_history(e, dl_key, field_ids.get(e.slug)).decode("utf-8", "replace"),
                               e.replaced_at, e.replaced_by) for e in entries]
        self._c.audit(actor, "secret.history", secret, entries=len(result))
        return result

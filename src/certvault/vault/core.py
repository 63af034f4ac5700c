"""What every vault operation shares: lookups, numbering, the access resolver, audit helpers."""

from __future__ import annotations

import uuid
from functools import cached_property
from typing import Any

from sqlalchemy import Select, bindparam, func, select

from certvault.auth.rbac import Actor, Permission, require
from certvault.auth.service import AuthService
from certvault.context import ServiceContext
from certvault.db.locks import advisory_lock
from certvault.errors import Forbidden, NotFound
from certvault.notifications.service import NotificationService
from certvault.system.service import SystemSettings
from certvault.vault.access import AccessResolver
from certvault.vault.models import Folder, Secret, SecretField

WEB_SERVICES = "web_services.enabled"

# A secret with its folder, by id or by number; built once (building a statement costs more than running it).
_WITH_FOLDER = select(Secret, Folder).join(Folder, Secret.folder_id == Folder.id)
_BY_ID = _WITH_FOLDER.where(Secret.id == bindparam("ref"))
_BY_NUMBER = _WITH_FOLDER.where(Secret.number == bindparam("ref"))
# The same with its fields (ordered), for reads: one round trip instead of two.
_WITH_FIELDS = {stmt: select(Secret, Folder, SecretField).join(Folder, Secret.folder_id == Folder.id)
                .outerjoin(SecretField, SecretField.secret_id == Secret.id).where(stmt.whereclause)  # type: ignore[arg-type]
                .order_by(SecretField.position) for stmt in (_BY_ID, _BY_NUMBER)}
_LOCKED: dict[Select[Secret, Folder], Select[Secret, Folder]] = {
    _BY_ID: _BY_ID.with_for_update(of=Secret), _BY_NUMBER: _BY_NUMBER.with_for_update(of=Secret)}


class VaultCore:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.s = ctx.session
        self.access = AccessResolver(ctx.session)

    @cached_property
    def notifications(self) -> NotificationService:
        return NotificationService(self.ctx)

    @cached_property
    def auth(self) -> AuthService:
        return AuthService(self.ctx.session, self.ctx.audit, self.ctx.sealer, self.ctx.settings.security)

    @cached_property
    def system(self) -> SystemSettings:
        return SystemSettings(self.ctx.session, self.ctx.audit)

    # ---- gates -------------------------------------------------------------------------------
    def gate(self, actor: Actor) -> None:
        """Role gate for every vault operation; service accounts also need web services enabled."""
        require(actor, Permission.VAULT_USE)
        if actor.kind == "service":
            self.require_web_services()

    def require_web_services(self) -> None:
        if not self.system.get(WEB_SERVICES):
            raise Forbidden("web services are disabled; an administrator can enable them "
                            "(setting web_services.enabled)")

    # ---- lookups -----------------------------------------------------------------------------
    def folder(self, ref: str | uuid.UUID | int) -> Folder:
        found: Folder | None = None
        text = str(ref).strip()
        if isinstance(ref, uuid.UUID):
            found = self.s.get(Folder, ref)
        elif _is_number(text):
            found = self.s.scalar(select(Folder).where(Folder.number == int(text)))
        else:
            try:
                found = self.s.get(Folder, uuid.UUID(text))
            except ValueError:
                found = self.s.scalar(select(Folder).where(Folder.path == normalize_path(text)))
        if found is None:
            raise NotFound(f"folder {ref} not found")
        return found

    def secret_with_folder(self, ref: str | uuid.UUID | int, *, for_update: bool = False) -> tuple[Secret, Folder]:
        stmt, key = self._secret_query(ref)
        if for_update and self.s.get_bind().dialect.name == "postgresql":
            stmt = _LOCKED[stmt]
        row = self.s.execute(stmt, {"ref": key}).first()
        if row is None or not row[0].active:
            raise NotFound(f"secret {ref} not found")
        return row[0], row[1]

    def secret_with_fields(self, ref: str | uuid.UUID | int) -> tuple[Secret, Folder, list[SecretField]]:
        """A secret, its folder and its fields in position order, in one query."""
        stmt, key = self._secret_query(ref)
        rows = self.s.execute(_WITH_FIELDS[stmt], {"ref": key}).all()
        if not rows or not rows[0][0].active:
            raise NotFound(f"secret {ref} not found")
        return rows[0][0], rows[0][1], [row[2] for row in rows if row[2] is not None]

    @staticmethod
    def _secret_query(ref: str | uuid.UUID | int) -> tuple[Select[Secret, Folder], uuid.UUID | int]:
        if isinstance(ref, uuid.UUID):
            return _BY_ID, ref
        text = str(ref).strip()
        if _is_number(text):
            return _BY_NUMBER, int(text)
        try:
            return _BY_ID, uuid.UUID(text)
        except ValueError:
            raise NotFound(f"secret {ref} not found") from None

    def secret_by_path(self, path: str) -> tuple[Secret, Folder]:
        folder_path, _, name = normalize_path(path).rpartition("/")
        stmt = (select(Secret, Folder).join(Folder, Secret.folder_id == Folder.id)
                .where(Folder.path == folder_path, Secret.name == name, Secret.active.is_(True)))
        row = self.s.execute(stmt).first()
        if row is None:
            raise NotFound(f"secret {path} not found")
        return row[0], row[1]

    def next_number(self, model: type[Folder] | type[Secret]) -> int:
        """Secret Server style integer ids: serialised so two processes never hand out the same one."""
        advisory_lock(self.s, f"certvault-vault-number-{model.__tablename__}")
        return int(self.s.scalar(select(func.coalesce(func.max(model.number), 0))) or 0) + 1

    # ---- audit -------------------------------------------------------------------------------
    def audit(self, actor: Actor, action: str, secret: Secret | None = None, *, outcome: str = "success",
              folder: Folder | None = None, **details: Any) -> None:
        if secret is not None:
            details.setdefault("name", secret.name)
            self.ctx.audit.record(actor, action, target_type="secret", target_id=secret.id, outcome=outcome,
                                  details=details)
        else:
            target = folder.id if folder is not None else None
            if folder is not None:
                details.setdefault("path", folder.path)
            self.ctx.audit.record(actor, action, target_type="vault_folder" if folder else None, target_id=target,
                                  outcome=outcome, details=details)

    def deny(self, actor: Actor, action: str, secret: Secret, message: str, state: str,
             error: type[Forbidden] = Forbidden) -> Forbidden:
        """Audit a refused attempt and return the error to raise (the audit row is kept)."""
        self.audit(actor, action, secret, outcome="denied", reason=message, state=state)
        return error(message, keep_changes=True, state=state)


def normalize_path(path: str) -> str:
    """"\\A\\B", "/A/B/" and "A/B" all name folder A/B."""
    parts = [p.strip() for p in path.replace("\\", "/").split("/")]
    return "/".join(p for p in parts if p)


def _is_number(text: str) -> bool:
    """A folder or secret number: ASCII digits that fit a 64-bit column ("²" is a digit to str.isdigit)."""
    return text.isascii() and text.isdigit() and len(text) <= 18

"""What every vault operation shares: lookups, numbering, the access resolver, audit helpers.

A secret or folder the caller cannot view answers exactly like one that does not exist (404, the caller's
own reference, no name), so ids cannot be walked to learn names; the audit row records the refusal.
Beyond view, a missing level is a 403 that may name the secret: the caller can see it anyway.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, bindparam, func, select

from certvault import names
from certvault.auth.rbac import Actor, Permission, require
from certvault.auth.versioning import AUTH_VERSION, READ_VERSION
from certvault.context import ServiceContext
from certvault.db import dialect
from certvault.db.locks import advisory_lock
from certvault.db.session import READ_ONLY
from certvault.errors import Forbidden, InvalidInput, NotFound
from certvault.vault.access import NAMES, VIEW, AccessResolver
from certvault.vault.models import Folder, Secret, SecretField

if TYPE_CHECKING:
    from certvault.auth.service import AuthService
    from certvault.notifications.service import NotificationService
    from certvault.system.service import SystemSettings

WEB_SERVICES = "web_services.enabled"


def secret_not_found(ref: object) -> NotFound:
    """The one answer for a secret that does not exist and for one the caller cannot view."""
    return NotFound(f"secret {ref} not found among the secrets you can access")


def folder_not_found(ref: object) -> NotFound:
    return NotFound(f"folder {ref} not found among the folders you can access")

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


class Record:
    """A row of one table as an object with the mapped class's attribute names, for read-only work: what the
    access rules, unsealing and the response read of a Secret, Folder or SecretField, without the ORM's
    instance loading and identity map. Never added to a session; nothing written through it."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__ = values


_secrets, _folders, _fields = Secret.__table__, Folder.__table__, SecretField.__table__
_PARTS = (("s", _secrets), ("f", _folders), ("x", _fields))
# The same read as _WITH_FIELDS as plain rows (Core): columns labelled "<part>_<column>", split by `_records`.
_ROWS = (select(*[column.label(f"{part}_{column.name}") for part, table in _PARTS for column in table.c])
         .select_from(_secrets.join(_folders, _secrets.c.folder_id == _folders.c.id)
                      .outerjoin(_fields, _fields.c.secret_id == _secrets.c.id)).order_by(_fields.c.position))
_ROWS_WITH_FIELDS = {key: _ROWS.where(column == bindparam("ref"))
                     for key, column in ((_BY_ID, _secrets.c.id), (_BY_NUMBER, _secrets.c.number))}
# The same for several secrets at once with the auth version as a last column: the statement the direct read
# route runs ahead for all the reads of one event-loop pass (api/fast.py, `Prefetch`).
_READS_AHEAD = _ROWS.where(_secrets.c.id.in_(bindparam("refs", expanding=True))).add_columns(AUTH_VERSION)
_SPANS = [(start, start + len(table.c), [c.name for c in table.c]) for start, table in
          ((0, _secrets), (len(_secrets.c), _folders), (len(_secrets.c) + len(_folders.c), _fields))]


def _records(rows: Sequence[Any]) -> tuple[Record, Record, list[Record]]:
    (s0, s1, s_names), (f0, f1, f_names), (x0, x1, x_names) = _SPANS
    first = rows[0]
    secret = Record(dict(zip(s_names, first[s0:s1], strict=True)))
    folder = Record(dict(zip(f_names, first[f0:f1], strict=True)))
    fields = [Record(dict(zip(x_names, row[x0:x1], strict=True))) for row in rows if row[x0] is not None]
    return secret, folder, fields


@dataclass(frozen=True)
class VaultPeers:
    """What the vault uses of other domains, passed in by the container; each is built on first use."""

    auth: Callable[[], AuthService]
    notifications: Callable[[], NotificationService]
    system: Callable[[], SystemSettings]


class VaultCore:
    def __init__(self, ctx: ServiceContext, peers: VaultPeers) -> None:
        self.ctx = ctx
        self.s = ctx.session
        self.access = AccessResolver(ctx.session, ctx.process.access_levels)
        self._peers = peers
        self._prefetched: tuple[uuid.UUID | int, list[Any]] | None = None

    @cached_property
    def notifications(self) -> NotificationService:
        return self._peers.notifications()

    @cached_property
    def auth(self) -> AuthService:
        return self._peers.auth()

    @cached_property
    def system(self) -> SystemSettings:
        return self._peers.system()

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
            raise folder_not_found(ref)
        return found

    def secret_with_folder(self, ref: str | uuid.UUID | int, *, for_update: bool = False) -> tuple[Secret, Folder]:
        stmt, key = self._secret_query(ref)
        if for_update and dialect.for_update(self.s):
            stmt = _LOCKED[stmt]
        row = self.s.execute(stmt, {"ref": key}).first()
        if row is None or not row[0].active:
            raise secret_not_found(ref)
        return row[0], row[1]

    def secret_with_fields(self, ref: str | uuid.UUID | int) -> tuple[Secret, Folder, list[SecretField]]:
        """A secret, its folder and its fields in position order, in one query.

        On a read-only session (db/session.py `read_sessions`) they come back as `Record`s from Core rows:
        nothing is loaded into the session, and nothing read that way can be written."""
        stmt, key = self._secret_query(ref)
        if self.s.info.get(READ_ONLY):
            found: Sequence[Any]
            if self._prefetched is not None and self._prefetched[0] == key:
                found, self._prefetched = self._prefetched[1], None
            else:
                found = self.s.connection().execute(_ROWS_WITH_FIELDS[stmt], {"ref": key}).all()
            if not found or not found[0].s_active:
                raise secret_not_found(ref)
            return _records(found)  # type: ignore[return-value]
        rows = self.s.execute(_WITH_FIELDS[stmt], {"ref": key}).all()
        if not rows or not rows[0][0].active:
            raise secret_not_found(ref)
        return rows[0][0], rows[0][1], [row[2] for row in rows if row[2] is not None]

    @staticmethod
    def rows_ahead(conn: Connection, secret_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
        """The rows `secret_with_fields` would read for each of `secret_ids`, with the auth version, in one
        statement (the secrets that do not exist are left out)."""
        found: dict[uuid.UUID, list[Any]] = {}
        for row in conn.execute(_READS_AHEAD, {"refs": secret_ids}):
            found.setdefault(row.s_id, []).append(row)
        return found

    def use_rows_ahead(self, secret_id: uuid.UUID, rows: list[Any] | None) -> int | None | object:
        """On a read-only session: hand `secret_with_fields(secret_id)` the rows read ahead for it and return
        their auth version for the token check (auth/credentials.py) that must come first. Nothing is decided
        or returned from the rows until the caller is authenticated and the access rules ran. READ_VERSION
        when there are none (the secret does not exist, or nothing was read ahead): then everything is read
        on its own."""
        if not rows or not self.s.info.get(READ_ONLY):
            return READ_VERSION
        self._prefetched = (secret_id, rows)
        self.access.known_version = rows[0].auth_version
        return rows[0].auth_version

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
            raise secret_not_found(ref) from None

    def secret_by_path(self, path: str) -> tuple[Secret, Folder]:
        folder_path, _, name = normalize_path(path).rpartition("/")
        stmt = (select(Secret, Folder).join(Folder, Secret.folder_id == Folder.id)
                .where(Folder.path == folder_path, Secret.name == name, Secret.active.is_(True)))
        row = self.s.execute(stmt).first()
        if row is None:
            raise secret_not_found(path)
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
            if folder is not None:
                details.setdefault("folder", folder.path)
            self.ctx.audit.record(actor, action, target_type="secret", target_id=secret.id, outcome=outcome,
                                  details=details)
        else:
            target = folder.id if folder is not None else None
            if folder is not None:
                details.setdefault("path", folder.path)
            self.ctx.audit.record(actor, action, target_type="vault_folder" if folder else None, target_id=target,
                                  outcome=outcome, details=details)

    def require_secret(self, actor: Actor, secret: Secret, folder: Folder, wanted: int, ref: object,
                       action: str) -> int:
        """The caller's level on the secret, when at least `wanted`; hidden (below view) or refused, audited."""
        level = self.access.secret_level(actor, secret, folder)
        if level < VIEW:
            raise self.conceal(actor, action, secret, ref)
        if level < wanted:
            raise self.deny(actor, action, secret, f"you need {NAMES[wanted]} permission on secret {secret.name}",
                            "CannotView")
        return level

    def require_folder(self, actor: Actor, folder: Folder, wanted: int, ref: object, action: str) -> int:
        level = self.access.folder_level(actor, folder)
        if level < VIEW:
            self.audit(actor, action, folder=folder, outcome="denied", reason="no permission on the folder")
            raise NotFound(folder_not_found(ref).message, keep_changes=True)
        if level < wanted:
            raise Forbidden(f"you need {NAMES[wanted]} permission on folder {folder.path}")
        return level

    def conceal(self, actor: Actor, action: str, secret: Secret, ref: object) -> NotFound:
        """Audit a refused attempt on a secret the caller cannot view; return the error to raise, worded as
        for a secret that does not exist."""
        self.audit(actor, action, secret, outcome="denied", reason="no permission on the secret", state="CannotView")
        return NotFound(secret_not_found(ref).message, keep_changes=True)

    def deny(self, actor: Actor, action: str, secret: Secret, message: str, state: str,
             error: type[Forbidden] = Forbidden) -> Forbidden:
        """Audit a refused attempt and return the error to raise (the audit row is kept)."""
        self.audit(actor, action, secret, outcome="denied", reason=message, state=state)
        return error(message, keep_changes=True, state=state)


FORBIDDEN_IN_NAMES = set("/\\")


def check_name(name: str, what: str) -> str:
    """A folder's or secret's name: a path element, so no slashes."""
    name = names.check_name(name.strip(), f"{what} name")
    if FORBIDDEN_IN_NAMES & set(name):
        raise InvalidInput(f"{what} name {name!r} may not contain '/' or '\\'")
    return name


def normalize_path(path: str) -> str:
    """"\\A\\B", "/A/B/" and "A/B" all name folder A/B."""
    parts = [p.strip() for p in path.replace("\\", "/").split("/")]
    return "/".join(p for p in parts if p)


def _is_number(text: str) -> bool:
    """A folder or secret number: ASCII digits that fit a 64-bit column ("²" is a digit to str.isdigit)."""
    return text.isascii() and text.isdigit() and len(text) <= 18

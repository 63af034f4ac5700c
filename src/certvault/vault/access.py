"""Who may do what with a folder or a secret: view < edit < owner, inherited like NTFS.

A folder's effective grants are its own plus its parent's, up the chain until a folder that breaks
inheritance. A secret's are its own plus its folder's, unless the secret breaks inheritance. A user's
level is the highest grant made to them or to one of their groups. Vault administrators own everything
(DoubleLock still applies to them). Resolution is cached per request (one AccessResolver per session), and a
secret's level also per process when the caller read the auth version in its first statement (the direct read
route): every change to a grant, to a folder's place or inheritance, or to a secret's folder or inheritance
bumps that version (auth/versioning.py), as group memberships already do, so the next read everywhere resolves
anew.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from certvault.auth.rbac import Actor, Permission, require
from certvault.auth.versioning import VersionedCache, Watch, watch
from certvault.db.session import READ_ONLY
from certvault.errors import Forbidden
from certvault.vault.models import Folder, Secret, VaultPermission

NONE, VIEW, EDIT, OWNER = 0, 1, 2, 3
RANK = {"view": VIEW, "edit": EDIT, "owner": OWNER}
NAMES = {NONE: "none", VIEW: "view", EDIT: "edit", OWNER: "owner"}


def parse_level(value: str) -> str:
    from certvault.errors import InvalidInput

    if value not in RANK:
        raise InvalidInput(f"unknown permission {value!r}; choose view, edit or owner")
    return value


_perm, _folders = VaultPermission.__table__, Folder.__table__
# Built once (a statement built per call costs more than running it): the grants to a user or their
# groups on the given folders or secret, and the inheritance flags of a folder's ancestors.
_GRANT_LEVELS = select(_perm.c.level).where(
    or_(_perm.c.folder_id.in_(bindparam("folders", expanding=True)), _perm.c.secret_id == bindparam("secret")),
    or_(and_(_perm.c.principal_type == "user", _perm.c.principal_id == bindparam("user")),
        and_(_perm.c.principal_type == "group", _perm.c.principal_id.in_(bindparam("groups", expanding=True)))),
)
# The same per shape (folders on the chain, groups of the caller) with one plain parameter per value: an
# expanding IN is rewritten on every execution, a fixed shape is compiled once. Larger shapes use the above.
_SHAPED: dict[tuple[int, int], Select[str]] = {}
_SHAPED_LIMIT = 8


def _grant_levels(folders: int, groups: int) -> Select[str]:
    if folders > _SHAPED_LIMIT or groups > _SHAPED_LIMIT:
        return _GRANT_LEVELS
    found = _SHAPED.get((folders, groups))
    if found is None:
        uid = _perm.c.principal_id.type
        who = and_(_perm.c.principal_type == "user", _perm.c.principal_id == bindparam("user"))
        if groups:
            in_groups = _perm.c.principal_id.in_([bindparam(f"g{i}", type_=uid) for i in range(groups)])
            who = or_(who, and_(_perm.c.principal_type == "group", in_groups))
        on = _perm.c.secret_id == bindparam("secret")
        if folders:
            fid = _perm.c.folder_id.type
            on = or_(_perm.c.folder_id.in_([bindparam(f"f{i}", type_=fid) for i in range(folders)]), on)
        found = _SHAPED[(folders, groups)] = select(_perm.c.level).where(on, who)
    return found


_LINEAGE = select(_folders.c.id, _folders.c.parent_id, _folders.c.inherit_permissions).where(
    _folders.c.id.in_(bindparam("ids", expanding=True)))


# What a level is resolved from, besides grants (all of whose changes count) and group memberships.
watch(VaultPermission, Watch(new_rows=True))
watch(Folder, Watch(columns=frozenset({"parent_id", "lineage", "inherit_permissions"})))
watch(Secret, Watch(columns=frozenset({"folder_id", "inherit_permissions"})))



def principals(actor: Actor) -> list[tuple[str, uuid.UUID]]:
    found = [("group", gid) for gid in actor.group_ids]
    if actor.id is not None:
        found.append(("user", actor.id))
    return found


def is_vault_admin(actor: Actor) -> bool:
    return actor.can(Permission.VAULT_ADMIN)


class AccessResolver:
    def __init__(self, session: Session, shared: VersionedCache | None = None) -> None:
        self._s = session
        self._chain: dict[uuid.UUID, list[uuid.UUID]] = {}
        self._levels: dict[tuple[str, uuid.UUID, uuid.UUID | None], int] = {}
        self._shared = shared
        # Set by the caller that read the auth version in this request (VaultCore.use_rows_ahead): secret
        # levels resolved or reused at that version go through `shared`.
        self.known_version: int | None = None

    def require_use(self, actor: Actor) -> None:
        require(actor, Permission.VAULT_USE)

    # ---- folders -----------------------------------------------------------------------------
    def contributing_folders(self, folder: Folder) -> list[uuid.UUID]:
        """The folder and the ancestors whose grants it inherits (one query per folder, cached)."""
        cached = self._chain.get(folder.id)
        if cached is not None:
            return cached
        if folder.parent_id is None or not folder.inherit_permissions:  # nothing above counts: no query
            self._chain[folder.id] = [folder.id]
            return self._chain[folder.id]
        ids = [uuid.UUID(part) for part in folder.lineage.split("/")]
        rows = {r.id: r for r in self._s.execute(_LINEAGE, {"ids": ids})}
        chain, current = [], rows.get(folder.id)
        while current is not None:
            chain.append(current.id)
            if not current.inherit_permissions or current.parent_id is None:
                break
            current = rows.get(current.parent_id)
        self._chain[folder.id] = chain
        return chain

    def folder_level(self, actor: Actor, folder: Folder) -> int:
        if is_vault_admin(actor):
            return OWNER
        key = ("folder", folder.id, actor.id)
        if key not in self._levels:
            self._levels[key] = self._max_grant(actor, folder_ids=self.contributing_folders(folder))
        return self._levels[key]

    def secret_level(self, actor: Actor, secret: Secret, folder: Folder) -> int:
        if is_vault_admin(actor):
            return OWNER
        key = ("secret", secret.id, actor.id)
        if key not in self._levels:
            self._levels[key] = self._shared_level(actor, secret, folder)
        return self._levels[key]

    def _shared_level(self, actor: Actor, secret: Secret, folder: Folder) -> int:
        version, shared = self.known_version, self._shared
        key = (actor.id, actor.group_ids, secret.id, secret.folder_id, secret.inherit_permissions, folder.lineage)
        if version is not None and shared is not None:
            level = shared.get(key, version)
            if level is not None:
                return int(level)
        folders = self.contributing_folders(folder) if secret.inherit_permissions else []
        level = self._max_grant(actor, folder_ids=folders, secret_id=secret.id)
        if version is not None and shared is not None:
            shared.put(key, version, level)
        return level

    def _max_grant(self, actor: Actor, folder_ids: Iterable[uuid.UUID] = (),
                   secret_id: uuid.UUID | None = None) -> int:
        folder_ids = list(folder_ids)
        if (actor.id is None and not actor.group_ids) or (not folder_ids and secret_id is None):
            return NONE
        groups = list(actor.group_ids)
        params: dict[str, object] = {"folders": folder_ids, "secret": secret_id, "user": actor.id, "groups": groups}
        params.update((f"f{i}", value) for i, value in enumerate(folder_ids))
        params.update((f"g{i}", value) for i, value in enumerate(groups))
        # A read-only session has nothing to flush first: Core on its connection, without the ORM's execute.
        bind = self._s.connection() if self._s.info.get(READ_ONLY) else self._s
        levels = bind.execute(_grant_levels(len(folder_ids), len(groups)), params).scalars()
        return max((RANK[level] for level in levels), default=NONE)

    def readable_folders(self, actor: Actor) -> dict[uuid.UUID, int] | None:
        """Level per folder the actor can at least view; None means every folder (administrators)."""
        if is_vault_admin(actor):
            return None
        folders = list(self._s.execute(select(Folder.id, Folder.parent_id, Folder.inherit_permissions)))
        grants = self._grants_by_folder(actor)
        by_id = {f.id: f for f in folders}
        memo: dict[uuid.UUID, int] = {}

        def level(fid: uuid.UUID) -> int:
            if fid not in memo:
                row = by_id[fid]
                inherited = level(row.parent_id) if row.inherit_permissions and row.parent_id in by_id else NONE
                memo[fid] = max(grants.get(fid, NONE), inherited)
            return memo[fid]

        return {f.id: lv for f in folders if (lv := level(f.id)) >= VIEW}

    def direct_secret_grants(self, actor: Actor) -> dict[uuid.UUID, int]:
        result: dict[uuid.UUID, int] = {}
        for secret_id, lv in self._principal_grants(actor, VaultPermission.secret_id):
            result[secret_id] = max(result.get(secret_id, NONE), RANK[lv])
        return result

    def _grants_by_folder(self, actor: Actor) -> dict[uuid.UUID, int]:
        result: dict[uuid.UUID, int] = {}
        for folder_id, lv in self._principal_grants(actor, VaultPermission.folder_id):
            result[folder_id] = max(result.get(folder_id, NONE), RANK[lv])
        return result

    def _principal_grants(self, actor: Actor,
                          column: InstrumentedAttribute[uuid.UUID | None]) -> list[tuple[uuid.UUID, str]]:
        who = principals(actor)
        if not who:
            return []
        match = or_(*[(VaultPermission.principal_type == kind) & (VaultPermission.principal_id == pid)
                      for kind, pid in who])
        rows = self._s.execute(select(column, VaultPermission.level).where(match, column.isnot(None)))
        return [(r[0], r[1]) for r in rows if r[0] is not None]


def need(level: int, wanted: int, what: str) -> None:
    if level < wanted:
        raise Forbidden(f"you need {NAMES[wanted]} permission on {what}")

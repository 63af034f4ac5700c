"""DoubleLock for people: set a passphrase, lock a secret, share it, open it with the passphrase."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select

from certvault.auth.rbac import Actor
from certvault.errors import Conflict, Forbidden, InvalidInput, NotFound
from certvault.vault import doublelock
from certvault.vault.access import OWNER
from certvault.vault.core import VaultCore
from certvault.vault.fieldstore import FieldStore, field_aad, history_aad
from certvault.vault.models import DoubleLockGrant, DoubleLockKey, Secret, SecretHistory
from certvault.vault.protection import ProtectionOps

SERVICE_REFUSAL = ("secret {name} is protected by DoubleLock; service accounts cannot read double-locked "
                   "secrets (remove DoubleLock or use another secret)")


def _grant_aad(secret_id: uuid.UUID, user_id: uuid.UUID) -> str:
    return f"doublelock:{secret_id}:{user_id}"


class DoubleLockOps:
    def __init__(self, core: VaultCore, store: FieldStore, protection: ProtectionOps) -> None:
        self._c = core
        self._store = store
        self._protection = protection

    # ---- the user's own passphrase ----------------------------------------------------------
    def has_passphrase(self, user_id: uuid.UUID | None) -> bool:
        return user_id is not None and self._c.s.get(DoubleLockKey, user_id) is not None

    def set_passphrase(self, actor: Actor, passphrase: str, current: str | None = None) -> None:
        self._c.gate(actor)
        if actor.kind != "user" or actor.id is None:
            raise Forbidden("only people have DoubleLock passphrases; service accounts cannot")
        row = self._c.s.get(DoubleLockKey, actor.id)
        if row is None:
            public, private, salt = doublelock.new_keypair(passphrase)
            self._c.s.add(DoubleLockKey(user_id=actor.id, public_key=public, encrypted_private_key=private,
                                        salt=salt))
            self._c.ctx.audit.record(actor, "vault.doublelock_passphrase_create", target_type="user",
                                     target_id=actor.id)
            return
        if current is None:
            raise Conflict("you already have a DoubleLock passphrase; give the current one to change it")
        row.encrypted_private_key, row.salt = doublelock.reencrypt_private(
            row.encrypted_private_key, row.salt, current, passphrase)
        self._c.ctx.audit.record(actor, "vault.doublelock_passphrase_change", target_type="user",
                                 target_id=actor.id)

    # ---- the secret key ----------------------------------------------------------------------
    def secret_key(self, actor: Actor, secret: Secret, passphrase: str | None, action: str) -> bytes:
        """The double-locked secret's key, or an audited refusal naming what is missing."""
        if actor.kind == "service":
            raise self._c.deny(actor, action, secret, SERVICE_REFUSAL.format(name=secret.name),
                               "DoubleLockNoAccess")
        key_row = self._c.s.get(DoubleLockKey, actor.id) if actor.id else None
        if key_row is None:
            raise self._c.deny(actor, action, secret, f"secret {secret.name} is protected by DoubleLock; "
                               "create your DoubleLock passphrase first", "CreateDoubleLockPassword")
        grant = self._c.s.get(DoubleLockGrant, (secret.id, actor.id))
        if grant is None:
            raise self._c.deny(actor, action, secret, f"secret {secret.name} is protected by DoubleLock and "
                               "was not shared with you", "DoubleLockNoAccess")
        if not passphrase:
            raise self._c.deny(actor, action, secret, f"secret {secret.name} is protected by DoubleLock; "
                               "give your DoubleLock passphrase", "RequiresDoubleLockPassword")
        try:
            private = doublelock.unlock_private(key_row.encrypted_private_key, key_row.salt, passphrase)
        except Forbidden:
            raise self._c.deny(actor, action, secret, "the DoubleLock passphrase is wrong",
                               "RequiresDoubleLockPassword") from None
        return doublelock.unwrap(private, grant.wrapped_key, _grant_aad(secret.id, grant.user_id))

    # ---- locking a secret, sharing it ---------------------------------------------------------
    def enable(self, actor: Actor, secret_ref: str | uuid.UUID) -> Secret:
        self._c.gate(actor)
        secret, folder = self._c.secret_with_folder(secret_ref, for_update=True)
        self._c.require_secret(actor, secret, folder, OWNER, secret_ref, "vault.doublelock_enable")
        self._protection.refuse_if_held_by_other(actor, secret, "secret.doublelock_enable")  # values are rewritten
        if secret.double_lock:
            raise Conflict(f"secret {secret.name} is already double-locked")
        key_row = self._c.s.get(DoubleLockKey, actor.id) if actor.id else None
        if key_row is None:
            raise InvalidInput("create your DoubleLock passphrase before double-locking a secret")
        key = doublelock.new_secret_key()
        for field in self._store.fields(secret.id):
            if field.is_secret:
                self._store.write(field, self._store.read(field, None), key)
        self._rewrap_history(secret, None, key)
        self._c.s.add(DoubleLockGrant(secret_id=secret.id, user_id=key_row.user_id, granted_by=actor.name,
                                      wrapped_key=doublelock.wrap_for(key_row.public_key, key,
                                                                      _grant_aad(secret.id, key_row.user_id))))
        secret.double_lock = True
        self._c.audit(actor, "secret.doublelock_enable", secret)
        return secret

    def disable(self, actor: Actor, secret_ref: str | uuid.UUID, passphrase: str) -> Secret:
        self._c.gate(actor)
        secret, folder = self._c.secret_with_folder(secret_ref, for_update=True)
        self._c.require_secret(actor, secret, folder, OWNER, secret_ref, "vault.doublelock_disable")
        self._protection.refuse_if_held_by_other(actor, secret, "secret.doublelock_disable")
        if not secret.double_lock:
            raise Conflict(f"secret {secret.name} is not double-locked")
        key = self.secret_key(actor, secret, passphrase, "secret.doublelock_disable")
        for field in self._store.fields(secret.id):
            if field.is_secret:
                self._store.write(field, self._store.read(field, key), None)
        self._rewrap_history(secret, key, None)
        self._c.s.execute(delete(DoubleLockGrant).where(DoubleLockGrant.secret_id == secret.id))
        secret.double_lock = False
        self._c.audit(actor, "secret.doublelock_disable", secret)
        return secret

    def share(self, actor: Actor, secret_ref: str | uuid.UUID, username: str, passphrase: str) -> None:
        """Give another person the secret key; they need their own passphrase (and a vault permission)."""
        self._c.gate(actor)
        secret, folder = self._c.secret_with_folder(secret_ref)
        self._c.require_secret(actor, secret, folder, OWNER, secret_ref, "vault.doublelock_share")
        if not secret.double_lock:
            raise Conflict(f"secret {secret.name} is not double-locked")
        key = self.secret_key(actor, secret, passphrase, "secret.doublelock_share")
        kind, user_id, _ = self._c_folders_principal(username)
        if kind != "user":
            raise InvalidInput("DoubleLock is shared with people, not groups")
        target = self._c.s.get(DoubleLockKey, user_id)
        if target is None:
            raise InvalidInput(f"{username} has no DoubleLock passphrase yet; they must create one first")
        grant = self._c.s.get(DoubleLockGrant, (secret.id, user_id))
        wrapped = doublelock.wrap_for(target.public_key, key, _grant_aad(secret.id, user_id))
        if grant is None:
            self._c.s.add(DoubleLockGrant(secret_id=secret.id, user_id=user_id, wrapped_key=wrapped,
                                          granted_by=actor.name))
        else:
            grant.wrapped_key = wrapped
        self._c.audit(actor, "secret.doublelock_share", secret, user=username)

    def _c_folders_principal(self, username: str) -> tuple[str, uuid.UUID, str]:
        from certvault.vault.folders import FolderOps

        try:
            return FolderOps(self._c).resolve_principal(username, "user")
        except NotFound:
            raise NotFound(f"user {username} not found") from None

    def _rewrap_history(self, secret: Secret, old: bytes | None, new: bytes | None) -> None:
        field_ids = {f.slug: f.id for f in self._store.fields(secret.id)}
        entries = self._c.s.scalars(select(SecretHistory).where(SecretHistory.secret_id == secret.id))
        for entry in entries:
            field_id = field_ids.get(entry.slug)
            if field_id is None:
                continue
            plain = self._store.read_history(entry, old, field_id)
            inner = doublelock.lock_value(new, plain, field_aad(field_id)) if new else plain
            entry.sealed_value = self._c.ctx.sealer.seal(inner, history_aad(entry.id))

"""Tables of the secrets vault.

Secret field values, files and history entries are sealed with the keyring (aad bound to the row).
A double-locked secret's values carry one more layer: a per-secret key that only the users it was
shared with can unwrap with their own passphrase (see vault/doublelock.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from certvault.db.base import Base, Timestamps, UTCDateTime, UUIDPrimaryKey, utcnow

LEVELS = ("view", "edit", "owner")


class Folder(UUIDPrimaryKey, Timestamps, Base):
    """A folder; `path` is the display path ("Scan credentials/Linux"), `lineage` the ids of its chain."""

    __tablename__ = "vault_folders"

    number: Mapped[int] = mapped_column(Integer, unique=True, nullable=False)  # Secret Server style id
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("vault_folders.id"), index=True)
    path: Mapped[str] = mapped_column(String(1000), unique=True, nullable=False)
    lineage: Mapped[str] = mapped_column(Text, nullable=False)  # "rootid/childid/selfid"
    inherit_permissions: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    created_by: Mapped[str] = mapped_column(String(150), default="")


class Secret(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "vault_secrets"
    __table_args__ = (UniqueConstraint("folder_id", "name", name="uq_vault_secrets_folder_name"),)

    number: Mapped[int] = mapped_column(Integer, unique=True, nullable=False)
    folder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vault_folders.id"), index=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    template: Mapped[str] = mapped_column(String(32), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    system: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)  # used by certvault itself
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    inherit_permissions: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    created_by: Mapped[str] = mapped_column(String(150), default="")
    # lifecycle
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rotation_days: Mapped[int | None] = mapped_column(Integer)
    rotated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    reminded_for: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the due date last reminded of
    # protection
    checkout_enabled: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    checkout_minutes: Mapped[int] = mapped_column(Integer, default=30, nullable=False)
    require_approval: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    hide_password: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    double_lock: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


class SecretField(UUIDPrimaryKey, Base):
    """One item of a secret. Secret values and files are sealed (aad vault_field:<id>)."""

    __tablename__ = "vault_fields"
    __table_args__ = (UniqueConstraint("secret_id", "slug", name="uq_vault_fields_secret_slug"),)

    secret_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vault_secrets.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    position: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    is_secret: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    is_file: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    text_value: Mapped[str | None] = mapped_column(Text)  # only for fields that are not secret
    sealed_value: Mapped[bytes | None] = mapped_column(LargeBinary)
    filename: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SecretHistory(UUIDPrimaryKey, Base):
    """An earlier value of a secret field (aad vault_history:<id>), viewable by owners."""

    __tablename__ = "vault_history"

    secret_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vault_secrets.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    sealed_value: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    replaced_by: Mapped[str] = mapped_column(String(150), default="")


class VaultPermission(UUIDPrimaryKey, Base):
    """A grant of view/edit/owner on a folder or a secret to a user or a group."""

    __tablename__ = "vault_permissions"
    __table_args__ = (
        Index("ix_vault_permissions_principal", "principal_type", "principal_id"),
        UniqueConstraint("folder_id", "secret_id", "principal_type", "principal_id",
                         name="uq_vault_permissions_grant"),
    )

    folder_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("vault_folders.id", ondelete="CASCADE"),
                                                        index=True)
    secret_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("vault_secrets.id", ondelete="CASCADE"),
                                                        index=True)
    principal_type: Mapped[str] = mapped_column(String(8), nullable=False)  # user | group
    principal_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    level: Mapped[str] = mapped_column(String(8), nullable=False)
    granted_by: Mapped[str] = mapped_column(String(150), default="")
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CheckOut(UUIDPrimaryKey, Base):
    """Exclusive access to a secret for a period; the active one has ended_at NULL."""

    __tablename__ = "vault_checkouts"

    secret_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vault_secrets.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    username: Mapped[str] = mapped_column(String(150), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(32))  # checkin | expired | forced
    automatic: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


class AccessRequest(UUIDPrimaryKey, Timestamps, Base):
    """A request for access to a secret that requires approval: pending -> approved/denied -> expired."""

    __tablename__ = "vault_access_requests"

    secret_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vault_secrets.id", ondelete="CASCADE"), index=True)
    requester_id: Mapped[uuid.UUID] = mapped_column(index=True, nullable=False)
    requester_name: Mapped[str] = mapped_column(String(150), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    decided_by: Mapped[str | None] = mapped_column(String(150))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_comment: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DoubleLockKey(Base):
    """A user's DoubleLock key pair: the private key is encrypted under the user's passphrase."""

    __tablename__ = "vault_doublelock_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    encrypted_private_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    salt: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class DoubleLockGrant(Base):
    """A double-locked secret's key, encrypted to one user's DoubleLock public key."""

    __tablename__ = "vault_doublelock_grants"

    secret_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vault_secrets.id", ondelete="CASCADE"),
                                                 primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    granted_by: Mapped[str] = mapped_column(String(150), default="")
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ServiceAccountSettings(Base):
    """Vault-side settings of a service account (a users row with kind='service')."""

    __tablename__ = "vault_service_accounts"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    # Secret Server's "View Launcher Password" role permission: may read hidden passwords.
    view_hidden: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    created_by: Mapped[str] = mapped_column(String(150), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

"""Shapes of the vault for the REST API and the CLI's --json output."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from certvault.names import Label, Name, ShortName
from certvault.vault.access import NAMES
from certvault.vault.fieldstore import FieldValue
from certvault.vault.folders import FolderListing, GrantInfo
from certvault.vault.lifecycle import due_at
from certvault.vault.models import AccessRequest, CheckOut, Folder, Secret, SecretField


class FolderOut(BaseModel):
    id: uuid.UUID
    number: int
    name: str
    path: str
    parent_id: uuid.UUID | None
    inherit_permissions: bool
    permission: str

    @classmethod
    def of(cls, folder: Folder, level: str) -> FolderOut:
        return cls(id=folder.id, number=folder.number, name=folder.name, path=folder.path,
                   parent_id=folder.parent_id, inherit_permissions=folder.inherit_permissions, permission=level)

    @classmethod
    def listing(cls, item: FolderListing) -> FolderOut:
        return cls.of(item.folder, item.level)


class FolderCreate(BaseModel):
    name: Name
    parent: str | None = None


class GrantIn(BaseModel):
    principal: Name = Field(description="user or group name or id; 'group:NAME' to be explicit")
    level: str = Field(pattern="^(view|edit|owner)$")


class GrantOut(BaseModel):
    id: uuid.UUID
    principal_type: str
    principal: str
    level: str
    inherited_from: str | None

    @classmethod
    def of(cls, g: GrantInfo) -> GrantOut:
        return cls(id=g.id, principal_type=g.principal_type, principal=g.principal, level=g.level,
                   inherited_from=g.inherited_from)


class Inheritance(BaseModel):
    inherit: bool


class CheckOutOut(BaseModel):
    user: str
    started_at: datetime
    expires_at: datetime
    automatic: bool

    @classmethod
    def of(cls, c: CheckOut | None) -> CheckOutOut | None:
        return None if c is None else cls(user=c.username, started_at=c.started_at, expires_at=c.expires_at,
                                          automatic=c.automatic)


class FieldInfo(BaseModel):
    slug: str
    name: str
    is_secret: bool
    is_file: bool
    filename: str | None = None
    size: int = 0


class FieldData(FieldInfo):
    value: str | None = None  # text fields
    content_base64: str | None = None  # files

    @classmethod
    def of(cls, v: FieldValue) -> FieldData:
        if v.is_file:
            return cls(slug=v.slug, name=v.name, is_secret=v.is_secret, is_file=True, filename=v.filename,
                       size=len(v.data), content_base64=base64.b64encode(v.data).decode())
        return cls(slug=v.slug, name=v.name, is_secret=v.is_secret, is_file=False, size=len(v.data), value=v.text)


class Protection(BaseModel):
    checkout_enabled: bool
    checkout_minutes: int
    require_approval: bool
    hide_password: bool
    double_lock: bool


class SecretOut(BaseModel):
    id: uuid.UUID
    number: int
    name: str
    template: str
    folder_id: uuid.UUID
    folder_path: str
    permission: str
    version: int
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    rotation_days: int | None
    due_at: datetime | None
    inherit_permissions: bool
    protection: Protection
    checked_out: CheckOutOut | None = None
    state: str | None = None
    fields: list[FieldInfo] = []

    @classmethod
    def of(cls, secret: Secret, folder: Folder, level: int, fields: list[SecretField] | None = None,
           checkout: CheckOut | None = None, state: str | None = None) -> SecretOut:
        return cls(
            id=secret.id, number=secret.number, name=secret.name, template=secret.template, folder_id=folder.id,
            folder_path=folder.path, permission=NAMES[level], version=secret.version, created_at=secret.created_at,
            updated_at=secret.updated_at, expires_at=secret.expires_at, rotation_days=secret.rotation_days,
            due_at=due_at(secret), inherit_permissions=secret.inherit_permissions,
            protection=Protection(checkout_enabled=secret.checkout_enabled, checkout_minutes=secret.checkout_minutes,
                                  require_approval=secret.require_approval, hide_password=secret.hide_password,
                                  double_lock=secret.double_lock),
            checked_out=CheckOutOut.of(checkout), state=state,
            fields=[FieldInfo(slug=f.slug, name=f.name, is_secret=f.is_secret, is_file=f.is_file,
                              filename=f.filename, size=f.size) for f in fields or []],
        )


class SecretValues(BaseModel):
    secret: SecretOut
    fields: list[FieldData]
    withheld: list[str] = Field(default_factory=list, description="hidden passwords not displayed")


class SecretCreate(BaseModel):
    folder: str = Field(description="folder id, number or path")
    name: Name
    template: Name
    fields: dict[str, str] = Field(default_factory=dict)
    files: dict[str, FileIn] = Field(default_factory=dict)
    generate_password: bool = False
    expires_at: datetime | None = None
    rotation_days: int | None = Field(default=None, ge=1, le=3650)
    checkout_enabled: bool | None = None
    checkout_minutes: int | None = Field(default=None, ge=1, le=10080)
    require_approval: bool | None = None
    hide_password: bool | None = None


class FileIn(BaseModel):
    filename: str = Field(min_length=1, max_length=255)
    content_base64: str


class SecretUpdate(BaseModel):
    name: Name | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    files: dict[str, FileIn] = Field(default_factory=dict)
    generate_password: bool = False
    doublelock_passphrase: str | None = None


class SettingsUpdate(BaseModel):
    checkout_enabled: bool | None = None
    checkout_minutes: int | None = Field(default=None, ge=1, le=10080)
    require_approval: bool | None = None
    hide_password: bool | None = None
    expires_at: datetime | None = None
    rotation_days: int | None = Field(default=None, ge=1, le=3650)
    inherit_permissions: bool | None = None
    clear_expiry: bool = False
    clear_rotation: bool = False

    def changes(self) -> dict[str, Any]:
        found = self.model_dump(exclude_none=True, exclude={"clear_expiry", "clear_rotation"})
        if self.clear_expiry:
            found["expires_at"] = None
        if self.clear_rotation:
            found["rotation_days"] = None
        return found


class Unlock(BaseModel):
    doublelock_passphrase: str | None = None
    auto_checkout: bool = False


class CheckOutIn(BaseModel):
    minutes: int | None = Field(default=None, ge=1, le=10080)


class CheckInIn(BaseModel):
    force: bool = False


class AccessRequestIn(BaseModel):
    reason: str = Field(min_length=3, max_length=2000)
    minutes: int = Field(default=60, ge=1, le=10080)


class DecisionIn(BaseModel):
    approve: bool
    comment: str = Field(default="", max_length=2000)


class AccessRequestOut(BaseModel):
    id: uuid.UUID
    secret_id: uuid.UUID
    requester: str
    reason: str
    minutes: int
    status: str
    decided_by: str | None
    decided_at: datetime | None
    expires_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, r: AccessRequest) -> AccessRequestOut:
        return cls(id=r.id, secret_id=r.secret_id, requester=r.requester_name, reason=r.reason, minutes=r.minutes,
                   status=r.status, decided_by=r.decided_by, decided_at=r.decided_at, expires_at=r.expires_at,
                   created_at=r.created_at)


class PassphraseIn(BaseModel):
    passphrase: str = Field(min_length=1, max_length=1024)
    current: str | None = None


class ShareIn(BaseModel):
    user: ShortName
    doublelock_passphrase: str


class PassphraseOnly(BaseModel):
    doublelock_passphrase: str


class HistoryOut(BaseModel):
    slug: str
    version: int
    value: str
    replaced_at: datetime
    replaced_by: str


class AuditOut(BaseModel):
    seq: int
    at: datetime
    user: str
    ip: str | None
    action: str
    outcome: str
    details: dict[str, Any]


class ServiceAccountCreate(BaseModel):
    name: ShortName
    folders: list[Name] = Field(min_length=1)
    allowed_networks: list[str] = Field(default_factory=list)
    description: Label = ""
    view_hidden: bool = False
    alert_channels: list[ShortName] = Field(default_factory=list)


class ServiceAccountOut(BaseModel):
    id: uuid.UUID
    name: str
    folders: list[str]
    allowed_networks: list[str]
    view_hidden: bool
    locked_until: datetime | None
    last_login_at: datetime | None


class ServiceAccountCreated(BaseModel):
    account: ServiceAccountOut
    one_time_password: str


class PasswordOut(BaseModel):
    password: str


class HardeningCheck(BaseModel):
    name: str
    status: str
    summary: str
    items: list[str]


class HardeningOut(BaseModel):
    generated_at: datetime
    status: str
    checks: list[HardeningCheck]


SecretCreate.model_rebuild()
SecretUpdate.model_rebuild()

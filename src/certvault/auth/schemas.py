"""API and CLI shapes for users, groups, tokens and logins."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from certvault.names import Label, ShortLabel, ShortName


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class UserOut(_Out):
    id: uuid.UUID
    username: str
    display_name: str
    email: str | None
    role: str
    kind: str
    is_active: bool
    totp_enabled: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    allowed_networks: list[str]
    must_change_password: bool
    created_at: datetime


class UserCreate(BaseModel):
    username: ShortName
    role: str = "user"
    email: str | None = None
    display_name: Label = ""
    password: str | None = Field(default=None, description="omit to generate a one-time password")
    allowed_networks: list[str] = []


class UserCreated(BaseModel):
    user: UserOut
    one_time_password: str | None


class UserUpdate(BaseModel):
    role: str | None = None
    email: str | None = None
    display_name: Label | None = None
    is_active: bool | None = None
    allowed_networks: list[str] | None = None


class PasswordChange(BaseModel):
    current_password: str
    new_password: str
    revoke_tokens: bool = Field(default=False, description="also revoke your API tokens (but the one sending this)")


class PasswordReset(BaseModel):
    one_time_password: str = Field(description="shown once; the user must replace it at the next login")


class GroupOut(_Out):
    id: uuid.UUID
    name: str
    description: str
    members: list[str] = []

    @classmethod
    def of(cls, group: Any) -> GroupOut:
        return cls(id=group.id, name=group.name, description=group.description,
                   members=sorted(m.username for m in group.members))


class GroupCreate(BaseModel):
    name: ShortName
    description: Label = ""


class MemberAdd(BaseModel):
    user: ShortName = Field(description="username or user id")


class TokenCreate(BaseModel):
    name: ShortLabel = ""
    days: int | None = Field(default=None, ge=0, le=3650, description=(
        "lifetime; at most security.token_max_days (422 beyond it); 0 = never expires, only without a maximum"))
    user: ShortName | None = Field(default=None, description="administrators may create tokens for others")


class TokenOut(_Out):
    id: uuid.UUID
    name: str
    prefix: str
    kind: str
    expires_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class TokenCreated(BaseModel):
    token: str = Field(description="shown once; store it now")
    info: TokenOut


class LoginIn(BaseModel):
    username: str
    password: str
    totp: str | None = None


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str
    password_change_required: bool


class TotpBegin(BaseModel):
    secret: str
    provisioning_uri: str


class TotpStart(BaseModel):
    password: str = Field(description="your current password")
    code: str | None = Field(default=None, description="a current code, when two-factor authentication is on")


class TotpConfirm(BaseModel):
    code: str


class TotpConfirmed(BaseModel):
    message: str
    recovery_codes: list[str] = Field(description="shown only now: each logs in once in place of a code")


class TotpDisable(BaseModel):
    password: str = Field(description="your current password")
    code: str = Field(description="a current code from your authenticator")

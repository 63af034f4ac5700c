"""How an integration account is shown (API, CLI, web): never a secret, only which secrets are set."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from certvault.integrations.models import IntegrationAccount


class AccountOut(BaseModel):
    id: uuid.UUID
    kind: str
    plugin: str
    name: str
    enabled: bool
    options: dict[str, Any]
    secret_fields: list[str] = Field(description="the secrets that are set (held in the vault); never their values")
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, account: IntegrationAccount) -> AccountOut:
        return cls(id=account.id, kind=account.kind, plugin=account.plugin, name=account.name,
                   enabled=account.enabled, options=account.options, secret_fields=sorted(account.secret_refs),
                   created_at=account.created_at, created_by=account.created_by)


class AccountIn(BaseModel):
    plugin: str
    name: str
    options: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict, description="by secret field; stored in the vault")


class AccountPatch(BaseModel):
    options: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)
    enabled: bool | None = None


class PluginOut(BaseModel):
    kind: str
    name: str
    title: str
    options_schema: dict[str, Any]
    secret_fields: list[str]
    required_secrets: list[str]


class CheckOut(BaseModel):
    ok: bool
    result: str

"""How an integration account is shown (API, CLI, web): never a secret, only which secrets are set."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Base64Bytes, BaseModel, Field

from certvault.integrations.models import IntegrationAccount
from certvault.integrations.security import MAX_KEYSTORE_BYTES, describe_security


class AccountOut(BaseModel):
    id: uuid.UUID
    kind: str
    plugin: str
    name: str
    enabled: bool
    options: dict[str, Any]
    secret_fields: list[str] = Field(description="the secrets that are set (held in the vault); never their values")
    client_identity: dict[str, str] | None = Field(
        default=None, description="the client certificate offered for mutual TLS: source, subject, serial, not_after")
    trust: str = Field(default="system", description="system, ca_bundle (a trusted CA) or pinned (the server's own)")
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, account: IntegrationAccount) -> AccountOut:
        security = describe_security(account)
        return cls(id=account.id, kind=account.kind, plugin=account.plugin, name=account.name,
                   enabled=account.enabled, options=account.options, secret_fields=sorted(account.secret_refs),
                   client_identity=security["client_identity"], trust=security["trust"],
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


class SecurityIn(BaseModel):
    """Mutual TLS and trust of one account; fields left out stay as they are."""

    keystore: Base64Bytes | None = Field(default=None, max_length=MAX_KEYSTORE_BYTES * 4 // 3 + 4,
                                         description="PKCS#12 or JKS keystore, base64")
    keystore_password: str | None = Field(default=None, max_length=1024)
    client_cert: str | None = Field(default=None, max_length=64,
                                    description="id or serial of a client certificate of the internal CA")
    trusted_cert: str | None = Field(default=None, max_length=64 * 1024,
                                     description="PEM: a CA, or the server's own certificate (pinned)")
    clear_identity: bool = False
    clear_trust: bool = False


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

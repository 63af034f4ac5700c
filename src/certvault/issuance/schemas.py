"""Shapes for the API and CLI (`--json`): never a secret, always what a person needs to act."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from certvault.integrations.models import IntegrationAccount
from certvault.issuance.models import AcmeAccount, AcmeAuthorization, AcmeOrder, ManagedCertificate
from certvault.issuance.requests import user_status


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    ca_name: str
    directory_url: str
    email: str | None
    status: str
    account_url: str | None
    key_algorithm: str
    eab_kid: str | None
    has_ca_bundle: bool = False
    ari_supported: bool
    profiles: dict[str, Any]
    tos_url: str | None
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, account: AcmeAccount) -> AccountOut:
        out = cls.model_validate(account)
        out.has_ca_bundle = bool(account.ca_bundle_pem)
        return out


class DnsAccountOut(BaseModel):
    id: uuid.UUID
    name: str
    provider: str
    enabled: bool
    options: dict[str, Any]
    secret_fields: list[str]  # which secrets are set (held in the vault); never their values
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, account: IntegrationAccount) -> DnsAccountOut:
        return cls(id=account.id, name=account.name, provider=account.plugin, enabled=account.enabled,
                   options=account.options, secret_fields=sorted(account.secret_refs),
                   created_at=account.created_at, created_by=account.created_by)


class ChallengeOut(BaseModel):
    identifier: str
    status: str
    type: str
    token: str | None = None
    http_path: str | None = None
    http_content: str | None = None
    dns_name: str | None = None
    dns_value: str | None = None
    dns_target: str | None = None  # where the record was written: dns_name or the target of its CNAME
    dns_account_id: uuid.UUID | None = None  # the DNS account that published it (assigned or chosen)
    error: dict[str, Any] | None = None


class OrderOut(BaseModel):
    id: uuid.UUID
    status: str  # pending | processing | available | failed
    state: str
    names: list[str]
    challenge: str
    fulfilment: str
    account_id: uuid.UUID | None
    dns_account_id: uuid.UUID | None
    key_algorithm: str
    key_policy: str
    keystore_type: str
    profile: str | None
    purpose: str
    attempt: int
    certificate_id: uuid.UUID | None
    serial: str | None
    not_after: datetime | None
    last_check: str | None
    error_type: str | None
    error: str | None
    problem: dict[str, Any] | None
    challenges: list[ChallengeOut] = Field(default_factory=list)
    created_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, order: AcmeOrder, authorizations: list[AcmeAuthorization] | None = None) -> OrderOut:
        problem = order.error_problem if order.state == "failed" else None
        return cls(
            id=order.id, status=user_status(order), state=order.state, names=list(order.names),
            challenge=order.challenge_type, fulfilment=order.fulfilment, account_id=order.account_id,
            dns_account_id=order.dns_account_id, key_algorithm=order.key_algorithm, key_policy=order.key_policy,
            keystore_type=order.keystore_type, profile=order.profile, purpose=order.purpose, attempt=order.attempt,
            certificate_id=order.certificate_entry_id, serial=order.serial, not_after=order.not_after,
            last_check=order.last_check, error_type=order.error_type if order.state == "failed" else None,
            error=order.error_message if order.state == "failed" else None, problem=problem,
            challenges=[_challenge(order, a) for a in authorizations or []], created_by=order.created_by,
            created_at=order.created_at, updated_at=order.updated_at, finished_at=order.finished_at)


def _challenge(order: AcmeOrder, authz: AcmeAuthorization) -> ChallengeOut:
    shown = ("*." if authz.wildcard else "") + authz.identifier
    out = ChallengeOut(identifier=shown, status=authz.status, type=order.challenge_type, token=authz.token,
                       error=authz.error)
    if order.challenge_type == "http-01" and authz.token:
        out.http_path = f"/.well-known/acme-challenge/{authz.token}"
        out.http_content = authz.key_authorization
    elif authz.record_name:
        out.dns_name, out.dns_value = authz.record_name, authz.record_value
        out.dns_target, out.dns_account_id = authz.record_target, authz.dns_account_id
    return out


class ManagedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    certificate_id: uuid.UUID = Field(validation_alias="certificate_entry_id")
    account_id: uuid.UUID | None
    names: list[str]
    status: str
    auto_renew: bool
    renew_days_before: int | None
    key_policy: str
    challenge_type: str
    fulfilment: str
    serial: str
    not_before: datetime
    not_after: datetime
    renew_at: datetime | None
    renew_reason: str | None
    next_check_at: datetime | None
    ari_window_start: datetime | None
    ari_window_end: datetime | None
    ari_explanation_url: str | None
    ari_urgent: bool
    last_renewed_at: datetime | None
    last_error: str | None
    revoked_at: datetime | None
    revocation_reason: int | None

    @classmethod
    def of(cls, managed: ManagedCertificate) -> ManagedOut:
        return cls.model_validate(managed)


# ---- request bodies --------------------------------------------------------------------------------
class RegisterIn(BaseModel):
    directory: str = Field(description="a preset (letsencrypt, letsencrypt-staging, zerossl, google, buypass) or URL")
    email: str | None = None
    agree_tos: bool = False
    eab_kid: str | None = None
    eab_hmac: str | None = None
    ca_bundle_pem: str | None = None
    name: str | None = None
    key_algorithm: str = "ec256"


class RecoverIn(BaseModel):
    directory: str
    key_pem: str
    ca_bundle_pem: str | None = None
    name: str | None = None


class EmailIn(BaseModel):
    email: str | None


class DnsAccountIn(BaseModel):
    provider: str
    name: str
    options: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)
    # acme-dns: make a new registration on options.server first (JSON key "register")
    register_new: bool = Field(default=False, alias="register")


class DnsTestOut(BaseModel):
    ok: bool
    zones: list[str] = Field(default_factory=list)  # what the credentials can edit
    result: str | None = None  # what answered
    error: str | None = None  # why the test failed, in words


class AssignDnsIn(BaseModel):
    dns_account_id: uuid.UUID


class RevokeIn(BaseModel):
    reason: int = 0
    by: str = "account"


class RenewalSettingsIn(BaseModel):
    auto_renew: bool | None = None
    renew_days_before: int | None = None
    clear_renew_days_before: bool = False


class AdoptIn(BaseModel):
    account_id: uuid.UUID
    challenge: str = "http-01"
    dns_account_id: uuid.UUID | None = None
    http_mode: str = "standalone"
    webroot: str | None = None
    key: str = "ec256"
    renew_days_before: int | None = None

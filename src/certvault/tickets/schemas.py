"""How help desks and ticket records are shown (API, CLI, web): never a keystore or its password."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from certvault.integrations.models import IntegrationAccount
from certvault.integrations.security import describe_security
from certvault.tickets.models import HelpDeskSettings, TicketRecord
from certvault.tickets.service import describe_settings


class HelpDeskOut(BaseModel):
    id: uuid.UUID
    name: str
    plugin: str
    enabled: bool
    url: str | None = Field(default=None, description="the help desk's base URL (its `url` option)")
    expiry_tickets: bool
    vulnerability_tickets: bool
    resolve_on_renewal: bool
    client_identity: dict[str, Any] | None = Field(description="source, subject, serial and expiry")
    trust: str = Field(description="system, ca_bundle (a trusted CA) or pinned (the server's own certificate)")

    @classmethod
    def of(cls, account: IntegrationAccount, settings: HelpDeskSettings) -> HelpDeskOut:
        url = account.options.get("url") or account.options.get("instance_url") or account.options.get("base_url")
        return cls(id=account.id, name=account.name, plugin=account.plugin, enabled=account.enabled,
                   url=url, **describe_settings(settings), **describe_security(account))


class HelpDeskSettingsIn(BaseModel):
    expiry_tickets: bool | None = None
    vulnerability_tickets: bool | None = None
    resolve_on_renewal: bool | None = None
    client_keystore_b64: str | None = Field(default=None, max_length=400_000,
                                            description="a PKCS#12 or JKS keystore, base64")
    keystore_password: str | None = Field(default=None, max_length=1000)
    client_cert: str | None = Field(default=None, max_length=100,
                                    description="id or serial of a client certificate of the internal CA")
    trusted_cert: str | None = Field(default=None, max_length=200_000, description="PEM, or DER in base64")
    clear_client_identity: bool = False
    clear_trusted_cert: bool = False


class TicketOut(BaseModel):
    id: uuid.UUID
    helpdesk: str
    plugin: str
    kind: str
    key: str
    number: str | None
    status: str | None
    remote_status: str | None
    url: str | None
    previous_numbers: list[str]
    common_name: str
    domain: str
    ip: str
    serial: str
    sync_state: str = Field(description="ok, pending (waiting for the help desk) or failed")
    pending_action: str | None
    error: str | None
    attempts: int
    last_synced_at: datetime | None

    @classmethod
    def of(cls, record: TicketRecord, account: IntegrationAccount) -> TicketOut:
        return cls(id=record.id, helpdesk=account.name, plugin=account.plugin, kind=record.kind, key=record.key,
                   number=record.number, status=record.status, remote_status=record.remote_status, url=record.url,
                   previous_numbers=list(record.previous_numbers or []), common_name=record.common_name,
                   domain=record.domain, ip=record.ip, serial=record.serial, sync_state=record.sync_state,
                   pending_action=record.pending_action, error=record.error, attempts=record.attempts,
                   last_synced_at=record.last_synced_at)


class SyncOut(BaseModel):
    created: list[dict[str, Any]]
    noted: list[dict[str, Any]]
    reopened: list[dict[str, Any]]
    resolved: list[dict[str, Any]]
    unchanged: list[dict[str, Any]]
    failed: list[dict[str, Any]]

"""Shapes of the scanning domain for the API, the CLI and the service's inputs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from cryptography import x509
from pydantic import BaseModel, ConfigDict, Field, field_validator

from certvault.errors import InvalidInput
from certvault.scanning.targets import check_sni, check_starttls, check_text, parse_ports, parse_target


class TargetSpec(BaseModel):
    """What to scan and how. hosts: names, IPs, [IPv6]:port, CIDR ranges; ports apply to entries without one."""

    model_config = ConfigDict(extra="forbid")

    hosts: list[str] = Field(default_factory=list, max_length=100_000)
    ports: list[int] = Field(default_factory=lambda: [443], max_length=1024)
    inventory: bool = Field(False, description="also scan every place the inventory saw a certificate, "
                                               "and the names on managed certificates")
    sni: str | None = Field(None, max_length=253)
    starttls: str | None = Field(None, description="smtp|imap|pop3|ftp|ldap|postgres|none; default by port")
    ca_pem: str | None = Field(None, max_length=1_000_000, description="extra trust anchors (PEM)")
    timeout: float = Field(5.0, ge=0.5, le=60)
    concurrency: int = Field(32, ge=1, le=512)
    batch_size: int = Field(50, ge=1, le=1000, description="targets per batch job")
    check_revocation: bool = True
    check_hsts: bool = True

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        cleaned = [h.strip() for h in value if h.strip()]
        for host in cleaned:
            parse_target(host)  # raises InvalidInput naming the entry
        return cleaned

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: list[int]) -> list[int]:
        ports = parse_ports(value)
        if not ports:
            raise InvalidInput("ports: give at least one port")
        return ports

    @field_validator("sni")
    @classmethod
    def _sni(cls, value: str | None) -> str | None:
        try:
            return check_sni(value)
        except InvalidInput:
            raise InvalidInput(f"sni: {(value or '')[:100]!r} is not a DNS name") from None

    @field_validator("starttls")
    @classmethod
    def _starttls(cls, value: str | None) -> str | None:
        return check_starttls(value)

    @field_validator("ca_pem")
    @classmethod
    def _ca(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            x509.load_pem_x509_certificates(value.encode("utf-8", "replace"))
        except ValueError:
            raise InvalidInput("ca_pem: no readable PEM certificate (expected -----BEGIN CERTIFICATE-----)") from None
        return value

    def describe(self) -> str:
        parts = list(self.hosts[:3]) + (["…"] if len(self.hosts) > 3 else [])
        if self.inventory:
            parts.insert(0, "inventory")
        return ", ".join(parts) or "nothing"


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: str
    source: str
    requested_by: str
    description: str = ""
    schedule_id: uuid.UUID | None
    total_targets: int
    done_targets: int
    failed_targets: int
    batches_total: int
    batches_done: int
    progress: float = Field(description="0..1")
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class EndpointOut(BaseModel):
    """An endpoint with its latest state (the list row)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    host: str
    ip: str
    port: int
    sni: str | None
    status: str
    grade: str | None
    protocols: list[str]
    findings: list[str]
    weak_cipher_count: int
    cert_subject: str | None
    cert_fingerprint: str | None
    cert_not_after: datetime | None
    last_error: str | None
    first_seen_at: datetime
    last_scanned_at: datetime | None


class ResultSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    run_id: uuid.UUID | None
    scanned_at: datetime
    reachable: bool
    grade: str | None
    cert_fingerprint: str | None
    findings: list[str]
    duration_ms: int
    connections: int


class ResultOut(ResultSummary):
    result: dict[str, Any]


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    endpoint_id: uuid.UUID
    result_id: uuid.UUID | None
    type: str
    subject: str | None
    before: Any
    after: Any
    details: dict[str, Any]
    created_at: datetime


class WeakCipherOut(BaseModel):
    protocol: str
    code: str | None
    name: str | None
    reasons: list[str]


class FindingOut(BaseModel):
    name: str
    description: str


class EndpointDetail(EndpointOut):
    latest: ResultOut | None
    history: list[ResultSummary]
    events: list[EventOut]
    weak_ciphers: list[WeakCipherOut]
    finding_details: list[FindingOut]


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=150)
    frequency: Literal["daily", "weekly"]
    time: str = Field(description="HH:MM, UTC")
    weekday: str | int | None = Field(None, description="for weekly: monday..sunday or 0..6")
    targets: TargetSpec
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_text(value.strip(), "name", 150)


class ScheduleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    frequency: Literal["daily", "weekly"] | None = None
    time: str | None = None
    weekday: str | int | None = None
    targets: TargetSpec | None = None
    enabled: bool | None = None


class ScheduleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    frequency: str
    weekday: int | None
    time_of_day: str
    spec: dict[str, Any]
    enabled: bool
    next_run_at: datetime
    last_run_at: datetime | None
    last_run_id: uuid.UUID | None
    created_by: str
    created_at: datetime

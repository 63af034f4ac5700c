"""Shapes of the inventory for the API, the CLI's --json and the web pages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, computed_field

from certvault.certificates.importing import FileResult
from certvault.names import Label, Tag


def _days_left(not_after: datetime | None) -> int | None:
    if not_after is None:
        return None
    return int((not_after - datetime.now(UTC)).total_seconds() // 86400)


class EntryOut(BaseModel):
    """One inventory entry as listed: its current version's headline fields."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: str
    common_name: str
    issuer_cn: str
    key_algorithm: str
    key_size: int
    not_after: datetime | None
    managed: bool
    source: str
    owner: str | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def days_left(self) -> int | None:
        return _days_left(self.not_after)


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    current: bool = False
    has_key: bool = False
    fingerprint_sha256: str
    spki_sha256: str
    subject: str
    common_name: str
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime
    key_algorithm: str
    key_size: int
    signature_algorithm: str
    sans: list[str]
    source: str
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def days_left(self) -> int | None:
        return _days_left(self.not_after)


class ChainCertOut(BaseModel):
    subject: str
    issuer: str
    fingerprint_sha256: str
    not_after: datetime


class SightingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    host: str | None
    ip: str
    port: int
    sni: str
    source: str
    first_seen: datetime
    last_seen: datetime


class EntryDetail(EntryOut):
    names: list[str] = []
    current: VersionOut | None = None
    versions: list[VersionOut] = []
    chain: list[ChainCertOut] = []
    seen: list[SightingOut] = []
    csr_pem: str | None = None


class ImportReportOut(BaseModel):
    files: list[FileResult]  # the service's own dataclass: one definition of an import's outcome
    imported: int
    failed: int


class CsrIn(BaseModel):
    common_name: str = Field(min_length=1, max_length=64)
    sans: list[str] = []
    key: str = Field(default="ec256", description="ec256 | ec384 | rsa2048 | rsa3072 | rsa4096")
    hash: str = Field(default="sha256", description="sha256 | sha384 | sha512")
    organization: str | None = None
    organizational_unit: str | None = None
    locality: str | None = None
    state: str | None = None
    country: str | None = None
    tags: list[Tag] = []
    owner: Label | None = None


class CsrOut(BaseModel):
    certificate: EntryDetail
    csr_pem: str


class ExportIn(BaseModel):
    format: str | None = Field(default=None, description="pem | pkcs12 | jks; default: the keystore type the "
                               "certificate was requested with (ACME), else pem")
    with_key: bool = False
    with_chain: bool = True
    password: str | None = Field(default=None, description="protects the file (and the key in PEM); default: the "
                                 "keystore password the certificate was requested with, for that format")
    version_id: uuid.UUID | None = None


class UpdateIn(BaseModel):
    tags: list[Tag] | None = None
    owner: Label | None = None
    managed: bool | None = Field(default=None, description="true adopts a discovered certificate")


class EndpointOut(BaseModel):
    host: str | None
    ip: str
    port: int
    sni: str | None
    entry_id: uuid.UUID
    last_seen: datetime


class DiscoverIn(BaseModel):
    targets: list[str] = Field(default=[], description="host, host:port, IP or IP:port")
    cidr: list[str] = Field(default=[], description="address ranges such as 10.0.0.0/28")
    ports: list[int] = Field(default=[443])
    sni: str | None = None
    timeout: float = Field(default=5.0, gt=0, le=30)


class WeekOut(BaseModel):
    start: str
    label: str
    count: int


class SummaryOut(BaseModel):
    total: int
    expired: int
    within_7: int
    within_30: int
    within_90: int
    pending: int
    weeks: list[WeekOut]

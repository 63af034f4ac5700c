"""What the agent API, the management API, the CLI and the web page exchange."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64, description="the agent's name, kept exactly as typed")
    expires_in: int = Field(default=3600, ge=60, description="seconds the token stays usable")


class TokenOut(BaseModel):
    token: str
    agent: str
    expires_at: datetime
    install_command: str = ""


class AgentOut(BaseModel):
    id: uuid.UUID
    name: str
    serial: str | None
    not_after: datetime | None
    last_seen_at: datetime | None
    last_address: str | None
    enrolled_at: datetime | None
    revoked_at: datetime | None
    status: str
    details: dict[str, Any] = {}

    @classmethod
    def of(cls, agent: Any, cert: Any) -> AgentOut:
        status = "revoked" if agent.revoked_at else "enrolled"
        return cls(id=agent.id, name=agent.name, serial=cert.serial if cert else None,
                   not_after=cert.not_after if cert else None, last_seen_at=agent.last_seen_at,
                   last_address=agent.last_address, enrolled_at=agent.enrolled_at, revoked_at=agent.revoked_at,
                   status=status, details=agent.details or {})


class JobOut(BaseModel):
    id: uuid.UUID
    agent: str
    kind: str
    state: str
    attempts: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Any, agent: str) -> JobOut:
        return cls(id=job.id, agent=agent, kind=job.kind, state=job.state, attempts=job.attempts, error=job.error,
                   created_at=job.created_at, finished_at=job.finished_at)


# ---- the agent's own calls ---------------------------------------------------------------------
class EnrolIn(BaseModel):
    token: str = Field(min_length=1, max_length=200)
    csr_pem: str = Field(min_length=1, max_length=8192)
    details: dict[str, str] = Field(default_factory=dict, max_length=8)


class RenewIn(BaseModel):
    csr_pem: str = Field(min_length=1, max_length=8192)


class CertificateOut(BaseModel):
    agent: str
    cert_pem: str
    chain_pem: str
    serial: str
    not_after: datetime


class AgentJobOut(BaseModel):
    id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    attempts: int


class PollOut(BaseModel):
    agent: str
    jobs: list[AgentJobOut]
    certificate_not_after: datetime


class ResultIn(BaseModel):
    ok: bool
    result: dict[str, Any] = Field(default_factory=dict)
    error: str | None = Field(default=None, max_length=4000)

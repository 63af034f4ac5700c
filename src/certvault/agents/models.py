"""Agents, their client certificates, one-time enrolment tokens and the jobs they lease."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from certvault.db.base import Base, JSONType, UTCDateTime, UUIDPrimaryKey, utcnow


class Agent(UUIDPrimaryKey, Base):
    """An enrolled certvault-agent; its name is the CN and SAN DNS of its client certificates, as given."""

    __tablename__ = "agents"

    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_by: Mapped[str] = mapped_column(String(150), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_address: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # platform, version (as reported)


class AgentCertificate(UUIDPrimaryKey, Base):
    """A client certificate an agent may present: one, or two while it rotates (the old one goes at first use
    of the new)."""

    __tablename__ = "agent_certificates"

    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EnrolmentToken(UUIDPrimaryKey, Base):
    """A one-time, expiring token that lets one agent of this name enrol; only its SHA-256 is stored."""

    __tablename__ = "agent_enrolment_tokens"

    agent_name: Mapped[str] = mapped_column(String(64), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(150), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgentJob(UUIDPrimaryKey, Base):
    """Work for one agent, leased like the server's own jobs: a lease that runs out hands it out again, so a
    job runs at least once and every kind is written to be idempotent; a repeated result changes nothing."""

    __tablename__ = "agent_jobs"
    __table_args__ = (UniqueConstraint("agent_id", "dedup_key", name="uq_agent_jobs_agent_id_dedup_key"),)

    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # files with a key, sealed (AAD: the id)
    dedup_key: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)  # queued|leased|done|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

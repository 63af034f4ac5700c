"""Event subscriptions and the outbox (channels are integration accounts of kind notify)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from certvault.db.base import Base, JSONType, UTCDateTime, UUIDPrimaryKey, utcnow


class NotificationSubscription(UUIDPrimaryKey, Base):
    """Send events named `event` (or every event for "*") to a channel, optionally for one subject."""

    __tablename__ = "notification_subscriptions"
    __table_args__ = (Index("ix_notification_subscriptions_event", "event"),)

    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("integration_accounts.id", ondelete="CASCADE"),
                                                  index=True)
    event: Mapped[str] = mapped_column(String(100), nullable=False)
    subject: Mapped[str | None] = mapped_column(String(255))  # e.g. one service account's name
    created_by: Mapped[str] = mapped_column(String(150), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(UUIDPrimaryKey, Base):
    """One notification to deliver to one channel; delivered by a job with retries."""

    __tablename__ = "notification_outbox"

    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("integration_accounts.id", ondelete="CASCADE"),
                                                  index=True)
    event: Mapped[str] = mapped_column(String(100), nullable=False)
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    severity: Mapped[str] = mapped_column(String(16), nullable=False, default="info")
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # digests and e-mailed certificates: an HTML part, attachments ({filename, content_type, data (base64)}),
    # recipients in place of the channel's own, and the collated rows (webhook json, CEF)
    html: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[dict[str, str]] | None] = mapped_column(JSONType)
    recipients: Mapped[list[str] | None] = mapped_column(JSONType)
    items: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)



class NotificationPolicy(UUIDPrimaryKey, Base):
    """What to collate (expiry window or scan weaknesses), when (schedule in a timezone) and to which channels.

    No channels means the administrators' email (through the first enabled email channel), as the default
    policy does."""

    __tablename__ = "notification_policies"

    name: Mapped[str] = mapped_column(String(150), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # expiry | vulnerability | report
    within_days: Mapped[int] = mapped_column(Integer, nullable=False, default=30)
    schedule: Mapped[str] = mapped_column(String(64), nullable=False, default="daily 08:00")
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    channel_ids: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    filters: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    scope: Mapped[str] = mapped_column(String(8), nullable=False, default="new")  # vulnerability: new | all
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_result: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    scan_mark: Mapped[datetime | None] = mapped_column(UTCDateTime)  # vulnerability: scans up to here are told
    created_by: Mapped[str] = mapped_column(String(150), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class ScanFindingNotice(UUIDPrimaryKey, Base):
    """A new weakness read from the event outbox (scan.weakness_found), waiting for vulnerability digests."""

    __tablename__ = "notification_scan_findings"

    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)
    endpoint_id: Mapped[str] = mapped_column(String(36), nullable=False, default="")
    host: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    ip: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    port: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    findings: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)

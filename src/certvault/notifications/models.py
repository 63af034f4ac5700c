"""Event subscriptions and the outbox (channels are integration accounts of kind notify)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
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


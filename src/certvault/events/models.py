"""The event log and, per consumer, the events it has still to read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from certvault.db.base import Base, JSONType, UTCDateTime, utcnow

BIGINT = BigInteger().with_variant(Integer, "sqlite")


class DomainEvent(Base):
    """Something that happened, appended in the transaction that made it happen (internal id, never in URLs)."""

    __tablename__ = "domain_events"

    id: Mapped[int] = mapped_column(BIGINT, primary_key=True)
    type: Mapped[str] = mapped_column(String(100), nullable=False, index=True)  # a catalogue name
    subject: Mapped[str | None] = mapped_column(String(255))  # what it is about: a secret, an account, a host
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    severity: Mapped[str] = mapped_column(String(16), nullable=False, default="info")  # info | warning | critical
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)

    deliveries: Mapped[list[EventDelivery]] = relationship(passive_deletes=True)


class EventDelivery(Base):
    """One event one consumer has not read yet: written with the event, deleted with the consumer's effects."""

    __tablename__ = "event_deliveries"

    consumer: Mapped[str] = mapped_column(String(50), primary_key=True)
    event_id: Mapped[int] = mapped_column(BIGINT, ForeignKey("domain_events.id", ondelete="CASCADE"),
                                          primary_key=True)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # gave up: kept for the operator to see

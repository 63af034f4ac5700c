"""How channels, subscriptions and outbox messages are shown and given (API)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from certvault.integrations.models import IntegrationAccount
from certvault.notifications.models import NotificationSubscription, OutboxMessage


class ChannelIn(BaseModel):
    name: str = Field(min_length=1, max_length=150)
    kind: str = Field(description="email | syslog | webhook")
    options: dict[str, Any] = Field(default_factory=dict)
    secret: str | None = Field(default=None, description="SMTP password or webhook signing key; stored sealed")


class ChannelOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    options: dict[str, Any]
    has_secret: bool
    enabled: bool

    @classmethod
    def of(cls, c: IntegrationAccount) -> ChannelOut:
        return cls(id=c.id, name=c.name, kind=c.plugin, options=c.options, has_secret=bool(c.secret_refs),
                   enabled=c.enabled)


class ChannelPatch(BaseModel):
    enabled: bool


class SubscriptionIn(BaseModel):
    channel: str = Field(description="channel id or name")
    event: str = Field(description="event name, 'service_account.*' or '*'")
    subject: str | None = Field(default=None, description="only for this account or secret name")


class SubscriptionOut(BaseModel):
    id: uuid.UUID
    channel_id: uuid.UUID
    event: str
    subject: str | None

    @classmethod
    def of(cls, s: NotificationSubscription) -> SubscriptionOut:
        return cls(id=s.id, channel_id=s.channel_id, event=s.event, subject=s.subject)


class OutboxOut(BaseModel):
    id: uuid.UUID
    channel_id: uuid.UUID
    event: str
    title: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, m: OutboxMessage) -> OutboxOut:
        return cls(id=m.id, channel_id=m.channel_id, event=m.event, title=m.title, status=m.status,
                   attempts=m.attempts, last_error=m.last_error, created_at=m.created_at, sent_at=m.sent_at)

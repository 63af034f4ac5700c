"""How channels, subscriptions and outbox messages are shown and given (API)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from certvault.integrations.models import IntegrationAccount
from certvault.notifications.models import NotificationPolicy, NotificationSubscription, OutboxMessage
from certvault.notifications.policies import PolicySpec


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
    channel: str | None = None

    @classmethod
    def of(cls, m: OutboxMessage, channel: str | None = None) -> OutboxOut:
        return cls(id=m.id, channel_id=m.channel_id, event=m.event, title=m.title, status=m.status,
                   attempts=m.attempts, last_error=m.last_error, created_at=m.created_at, sent_at=m.sent_at,
                   channel=channel)


class PolicyIn(BaseModel):
    name: str = Field(min_length=1, max_length=150)
    kind: str = Field(default="expiry", description="expiry | vulnerability | report")
    within_days: int = Field(default=30, ge=1, le=3650)
    schedule: str = Field(default="daily 08:00", max_length=64, description='"daily 08:00" or "weekly mon,thu 07:30"')
    timezone: str = Field(default="UTC", max_length=64)
    channels: list[str] = Field(default_factory=list, max_length=50,
                                description="channel names or ids; none: the administrators' email")
    filters: dict[str, Any] = Field(default_factory=dict, description="tags, issuers, owners (lists), origin")
    scope: str = Field(default="new", description="vulnerability: new | all")
    enabled: bool = True

    def spec(self) -> PolicySpec:
        return PolicySpec(self.name, self.kind, self.within_days, self.schedule, self.timezone, self.filters,
                          self.scope, self.enabled)


class PolicyPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=150)
    kind: str | None = None
    within_days: int | None = Field(default=None, ge=1, le=3650)
    schedule: str | None = Field(default=None, max_length=64)
    timezone: str | None = Field(default=None, max_length=64)
    channels: list[str] | None = Field(default=None, max_length=50)
    filters: dict[str, Any] | None = None
    scope: str | None = None
    enabled: bool | None = None

    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump(exclude={"channels"}).items() if v is not None}


class PolicyOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    within_days: int
    schedule: str
    timezone: str
    channels: list[str]
    filters: dict[str, Any]
    scope: str
    enabled: bool
    is_default: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_result: dict[str, Any]

    @classmethod
    def of(cls, p: NotificationPolicy, channel_names: list[str]) -> PolicyOut:
        return cls(id=p.id, name=p.name, kind=p.kind, within_days=p.within_days, schedule=p.schedule,
                   timezone=p.timezone, channels=channel_names, filters=dict(p.filters), scope=p.scope,
                   enabled=p.enabled, is_default=p.is_default, next_run_at=p.next_run_at, last_run_at=p.last_run_at,
                   last_result=dict(p.last_result))

"""Channels, subscriptions and the outbox. Domains append events to the domain-event outbox (events/);
the notifications consumer (consumer.py) calls `publish()` for each one in its job's transaction.

A published event becomes one outbox row per subscribed channel plus a delivery job, both in the
caller's transaction: an alert exists if and only if the transaction that read the event commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import or_, select

from certvault.auth.rbac import Actor, Permission, require
from certvault.context import ServiceContext
from certvault.errors import InvalidInput, NotFound
from certvault.events.catalogue import check_pattern
from certvault.integrations.models import IntegrationAccount
from certvault.integrations.service import IntegrationService
from certvault.notifications.models import NotificationSubscription, OutboxMessage
from certvault.plugins.protocols import Notification, Notifier
from certvault.plugins.registry import PluginRegistry, default_registry

CHANNEL = "notify"
DELIVER_JOB = "notifications.deliver"
MAX_ATTEMPTS = 5


def _secret_map(registry: PluginRegistry, kind: str, secret: str | None) -> dict[str, str]:
    """A channel row holds one sealed secret: the plugin's first secret field (password, signing key)."""
    try:
        fields = registry.get("notify", kind).secret_fields
    except NotFound as exc:  # a request naming a kind that does not exist is bad input, as before
        raise InvalidInput(exc.message) from None
    if not secret:
        return {}
    if not fields:
        raise InvalidInput(f"a {kind} channel takes no secret")
    return {fields[0]: secret}


@dataclass(frozen=True)
class Delivery:
    message_id: uuid.UUID
    channel: str
    notifier: Notifier
    notification: Notification


class NotificationService:
    def __init__(self, ctx: ServiceContext, plugins: PluginRegistry | None = None) -> None:
        self._ctx = ctx
        self._s = ctx.session
        self._plugins = plugins or default_registry()

    @property
    def ctx(self) -> ServiceContext:
        return self._ctx

    # ---- channels (integration accounts of kind "notify") ---------------------------------------
    @cached_property
    def _accounts(self) -> IntegrationService:
        from certvault.vault.service import VaultService

        return IntegrationService(self._ctx, VaultService(self._ctx, self), self._plugins)

    def create_channel(self, actor: Actor, name: str, kind: str, options: dict[str, Any],
                       secret: str | None = None) -> IntegrationAccount:
        return self._accounts.add(actor, CHANNEL, kind, name, options, _secret_map(self._plugins, kind, secret))

    def list_channels(self, actor: Actor) -> list[IntegrationAccount]:
        return self._accounts.list_accounts(actor, CHANNEL)

    def get_channel(self, actor: Actor, ref: str | uuid.UUID) -> IntegrationAccount:
        return self._accounts.get(actor, CHANNEL, ref)

    def set_channel_enabled(self, actor: Actor, ref: str | uuid.UUID, enabled: bool) -> IntegrationAccount:
        return self._accounts.set_enabled(actor, CHANNEL, ref, enabled)

    def delete_channel(self, actor: Actor, ref: str | uuid.UUID) -> None:
        self._accounts.delete(actor, CHANNEL, ref)

    def notifier_for(self, channel: IntegrationAccount) -> Notifier:
        return self._accounts.notifier(channel, "deliver")

    # ---- subscriptions -----------------------------------------------------------------------
    def subscribe(self, actor: Actor, channel_ref: str | uuid.UUID, event: str,
                  subject: str | None = None) -> NotificationSubscription:
        channel = self.get_channel(actor, channel_ref)
        event = check_pattern(event)  # a known event (events/catalogue.py), `prefix.*` or `*`
        existing = self._s.scalar(select(NotificationSubscription).where(
            NotificationSubscription.channel_id == channel.id, NotificationSubscription.event == event,
            NotificationSubscription.subject.is_(None) if subject is None
            else NotificationSubscription.subject == subject))
        if existing is not None:
            return existing
        sub = NotificationSubscription(channel_id=channel.id, event=event, subject=subject or None,
                                       created_by=actor.name)
        self._s.add(sub)
        self._s.flush()
        self._ctx.audit.record(actor, "notification.subscribe", target_type="notification_channel",
                               target_id=channel.id, details={"event": event, "subject": subject})
        return sub

    def unsubscribe(self, actor: Actor, subscription_id: uuid.UUID) -> None:
        require(actor, Permission.SETTINGS_MANAGE)
        sub = self._s.get(NotificationSubscription, subscription_id)
        if sub is None:
            raise NotFound(f"subscription {subscription_id} not found")
        self._ctx.audit.record(actor, "notification.unsubscribe", target_type="notification_channel",
                               target_id=sub.channel_id, details={"event": sub.event, "subject": sub.subject})
        self._s.delete(sub)

    def list_subscriptions(self, actor: Actor) -> list[NotificationSubscription]:
        require(actor, Permission.SETTINGS_MANAGE)
        return list(self._s.scalars(select(NotificationSubscription).order_by(NotificationSubscription.event)))

    # ---- publishing --------------------------------------------------------------------------
    def publish(self, event: str, title: str, body: str = "", *, severity: str = "info",
                subject: str | None = None, details: dict[str, Any] | None = None) -> list[OutboxMessage]:
        """Queue `event` for every subscribed, enabled channel (in the caller's transaction)."""
        prefixes = [event] + [".".join(event.split(".")[:i]) + ".*" for i in range(1, event.count(".") + 1)]
        stmt = (
            select(NotificationSubscription.channel_id)
            .join(IntegrationAccount, IntegrationAccount.id == NotificationSubscription.channel_id)
            .where(IntegrationAccount.enabled.is_(True), NotificationSubscription.event.in_([*prefixes, "*"]),
                   or_(NotificationSubscription.subject.is_(None), NotificationSubscription.subject == subject))
            .distinct()
        )
        messages = []
        clean = {k: str(v) for k, v in (details or {}).items() if v is not None}
        for channel_id in self._s.scalars(stmt):
            messages.append(self._queue(channel_id, event, title, body, severity, clean))
        return messages

    def _queue(self, channel_id: uuid.UUID, event: str, title: str, body: str, severity: str,
               details: dict[str, str], *, deliver: bool = True) -> OutboxMessage:
        message = OutboxMessage(id=uuid.uuid4(), channel_id=channel_id, event=event, title=title[:500], body=body,
                                severity=severity, details=details)
        self._s.add(message)
        self._s.flush()
        if deliver:
            self._ctx.enqueue(DELIVER_JOB, {"message_id": str(message.id)}, dedup_key=f"notify:{message.id}",
                              max_attempts=MAX_ATTEMPTS)
        return message

    def send_test(self, actor: Actor, channel_ref: str | uuid.UUID, *, by_job: bool = True) -> OutboxMessage:
        """A test message in the outbox; `by_job=False` when the caller delivers it itself and records the
        outcome (the CLI's `test`), so a worker does not send it a second time."""
        channel = self.get_channel(actor, channel_ref)
        self._ctx.audit.record(actor, "notification.test", target_type="notification_channel",
                               target_id=channel.id)
        return self._queue(channel.id, "notification.test", "Test message from certvault",
                           f"{actor.name} sent this test message to channel {channel.name}.", "info",
                           {"channel": channel.name}, deliver=by_job)

    def list_outbox(self, actor: Actor, limit: int = 100) -> list[OutboxMessage]:
        require(actor, Permission.SETTINGS_MANAGE)
        stmt = select(OutboxMessage).order_by(OutboxMessage.created_at.desc()).limit(min(limit, 500))
        return list(self._s.scalars(stmt))

    def get_message(self, actor: Actor, message_id: uuid.UUID) -> OutboxMessage:
        require(actor, Permission.SETTINGS_MANAGE)
        message = self._s.get(OutboxMessage, message_id)
        if message is None:
            raise NotFound(f"outbox message {message_id} not found")
        return message

    # ---- delivery (the job calls these) --------------------------------------------------------
    def prepare_delivery(self, message_id: uuid.UUID) -> Delivery | None:
        message = self._s.get(OutboxMessage, message_id)
        if message is None or message.status != "pending":
            return None
        channel = self._s.get(IntegrationAccount, message.channel_id)
        if channel is None:
            return None
        note = Notification(event=message.event, title=message.title, body=message.body, severity=message.severity,
                            occurred_at=message.created_at, details=dict(message.details),
                            message_id=str(message.id))
        return Delivery(message.id, channel.name, self.notifier_for(channel), note)

    def mark_sent(self, message_id: uuid.UUID) -> None:
        message = self._s.get(OutboxMessage, message_id)
        if message is not None:
            message.status, message.sent_at = "sent", self._ctx.now()
            message.attempts += 1

    def record_failure(self, message_id: uuid.UUID, error: str, final: bool) -> None:
        message = self._s.get(OutboxMessage, message_id)
        if message is not None:
            message.attempts += 1
            message.last_error = error[:2000]
            if final:
                message.status = "failed"

"""Channels, subscriptions and the outbox. Domains append events to the domain-event outbox (events/);
the notifications consumer (consumer.py) calls `publish()` for each one in its job's transaction.

A published event becomes one outbox row per subscribed channel plus a delivery job, both in the
caller's transaction: an alert exists if and only if the transaction that read the event commits.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, select

from certvault.auth.rbac import Actor, Permission, require
from certvault.context import ServiceContext
from certvault.errors import InvalidInput, NotFound
from certvault.events.catalogue import check_pattern
from certvault.integrations.models import IntegrationAccount
from certvault.integrations.service import IntegrationService
from certvault.notifications.models import (
    NotificationSubscription,
    OutboxMessage,
    ScanFindingNotice,
)
from certvault.plugins.protocols import Attachment, Notification, Notifier
from certvault.plugins.registry import PluginRegistry, default_registry

if TYPE_CHECKING:
    from certvault.certificates.service import CertificateService

CHANNEL = "notify"
DELIVER_JOB = "notifications.deliver"
MAX_ATTEMPTS = 16  # backoff 2 s, 4 s, ... capped at 10 min: a channel may be down for about 1.5 hours
OUTBOX_STATES = ("pending", "failed", "sent")


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
    def __init__(self, ctx: ServiceContext, accounts: Callable[[], IntegrationService],
                 plugins: PluginRegistry | None = None, *,
                 inventory: Callable[[], CertificateService] | None = None) -> None:
        self._ctx = ctx
        self._s = ctx.session
        self._plugins = plugins or default_registry()
        self._account_service = accounts  # the container's, built on first use (it needs the vault, which needs us)
        self._inventory = inventory  # the container's certificate service (e-mailing a certificate)

    @property
    def ctx(self) -> ServiceContext:
        return self._ctx

    # ---- channels (integration accounts of kind "notify") ---------------------------------------
    @cached_property
    def _accounts(self) -> IntegrationService:
        return self._account_service()

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
            messages.append(self.queue_message(channel_id, event, title, body, severity, clean))
        return messages

    def queue_message(self, channel_id: uuid.UUID, event: str, title: str, body: str, severity: str,
                      details: dict[str, str], *, deliver: bool = True, **parts: Any) -> OutboxMessage:
        """`parts`: html, attachments, recipients, items (OutboxMessage columns) for digests."""
        message = OutboxMessage(id=uuid.uuid4(), channel_id=channel_id, event=event, title=title[:500], body=body,
                                severity=severity, details=details, **parts)
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
        return self.queue_message(channel.id, "notification.test", "Test message from certvault",
                           f"{actor.name} sent this test message to channel {channel.name}.", "info",
                           {"channel": channel.name}, deliver=by_job)

    def list_outbox(self, actor: Actor, limit: int = 100, status: str | None = None) -> list[OutboxMessage]:
        """The newest messages; `status` pending | failed | sent narrows them (pending and failed are what an
        operator watches: a channel that is down keeps its messages pending until it answers again)."""
        require(actor, Permission.SETTINGS_MANAGE)
        stmt = select(OutboxMessage).order_by(OutboxMessage.created_at.desc()).limit(min(max(limit, 1), 500))
        if status is not None:
            if status not in OUTBOX_STATES:
                raise InvalidInput(f"status {status!r}: use {', '.join(OUTBOX_STATES)}")
            stmt = stmt.where(OutboxMessage.status == status)
        return list(self._s.scalars(stmt))

    def retry_message(self, actor: Actor, message_id: uuid.UUID) -> OutboxMessage:
        """A failed (given up) message goes back to pending with a fresh delivery job."""
        message = self.get_message(actor, message_id)
        if message.status != "failed":
            raise InvalidInput(f"outbox message {message_id} is {message.status}; only failed ones are retried")
        message.status, message.last_error = "pending", None
        self._ctx.enqueue(DELIVER_JOB, {"message_id": str(message.id)}, max_attempts=MAX_ATTEMPTS)
        self._ctx.audit.record(actor, "notification.retry", target_type="notification_channel",
                               target_id=message.channel_id, details={"message": str(message.id)})
        return message

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
                            message_id=str(message.id), html=message.html,
                            attachments=tuple(Attachment(a["filename"], a["content_type"], base64.b64decode(a["data"]))
                                              for a in message.attachments or []),
                            recipients=tuple(message.recipients or ()),
                            items=tuple(dict(item) for item in message.items or []))
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

    # ---- events read from the outbox (consumer.py) ----------------------------------------------------------
    def record_finding(self, payload: dict[str, Any]) -> None:
        """A scan.weakness_found event, kept for vulnerability policies that tell new weaknesses."""
        self._s.add(ScanFindingNotice(
            id=uuid.uuid4(), recorded_at=self._ctx.now(), endpoint_id=str(payload.get("endpoint") or "")[:36],
            host=str(payload.get("host") or "")[:255], ip=str(payload.get("ip") or "")[:64],
            port=int(payload.get("port") or 0), findings=[str(f)[:120] for f in payload.get("findings") or []][:100]))

    def purge_findings(self, keep: timedelta = timedelta(days=30)) -> None:
        self._s.execute(delete(ScanFindingNotice).where(ScanFindingNotice.recorded_at < self._ctx.now() - keep))

    def tell_account_holder(self, title: str, body: str, payload: dict[str, Any]) -> OutboxMessage | None:
        """certificate.renewed: the ACME account's contact email hears of it too, through the first enabled
        email channel (as Let's Encrypt users expect); nothing when no email channel or contact exists."""
        from certvault.issuance.models import AcmeAccount, AcmeOrder

        try:
            order = self._s.get(AcmeOrder, uuid.UUID(str(payload["order"]))) if payload.get("order") else None
        except ValueError:  # not an order id: nobody to tell
            return None
        account = self._s.get(AcmeAccount, order.account_id) if order is not None and order.account_id else None
        channel = self._s.scalars(select(IntegrationAccount).where(
            IntegrationAccount.kind == CHANNEL, IntegrationAccount.plugin == "email",
            IntegrationAccount.enabled.is_(True)).order_by(IntegrationAccount.name)).first()
        if account is None or not account.email or channel is None:
            return None
        details = {k: str(payload[k]) for k in ("serial", "not_after", "ca") if payload.get(k)}
        return self.queue_message(channel.id, "certificate.renewed", title, body, "info", details,
                           recipients=[account.email])

    # ---- e-mailing a certificate from the inventory ------------------------------------------------------------
    def email_certificate(self, actor: Actor, entry_id: uuid.UUID, to: str, *, fmt: str = "pem",
                          with_key: bool = False, password: str | None = None,
                          channel: str | None = None) -> dict[str, Any]:
        """Send a certificate (PEM, or PKCS#12) through an email channel, now. A private key only ever leaves
        inside a password-protected PKCS#12. Audited (the export, and the e-mail with its recipient)."""
        to = _address(to)
        if fmt not in ("pem", "pkcs12"):
            raise InvalidInput(f"format {fmt!r}: use pem or pkcs12")
        if with_key and (fmt != "pkcs12" or not password):
            raise InvalidInput("a private key only leaves inside a password-protected PKCS#12: "
                               "use --format pkcs12 --password P")
        if self._inventory is None:
            raise RuntimeError("NotificationService built without the inventory")
        account = self._mail_channel(actor, channel)
        exported = self._inventory().export(actor, entry_id, fmt=fmt, with_key=with_key, with_chain=True,
                                            password=password if fmt == "pkcs12" else None)
        name = exported.filename
        note = Notification(
            event="certificate.emailed", title=f"Certificate {name.rsplit('.', 1)[0]}",
            body=f"{actor.name} sent you the certificate {name} from certvault"
                 f"{' with its private key (the PKCS#12 password reaches you separately)' if with_key else ''}.",
            severity="info", occurred_at=self._ctx.now(), recipients=(to,),
            attachments=(Attachment(name, exported.media_type, exported.content),), message_id=str(uuid.uuid4()))
        self.notifier_for(account).send(note)
        details = {"to": to, "format": fmt, "with_key": with_key, "channel": account.name, "file": name}
        self._ctx.audit.record(actor, "certificate.email", target_type="certificate", target_id=entry_id,
                               details=details)
        return {"certificate": str(entry_id), **details}

    def _mail_channel(self, actor: Actor, ref: str | None) -> IntegrationAccount:
        if ref is not None:
            account = self.get_channel(actor, ref)
            if account.plugin != "email" or not account.enabled:
                raise InvalidInput(f"channel {account.name} is not an enabled email channel")
            return account
        require(actor, Permission.CERTIFICATES_EXPORT)
        found = self._s.scalars(select(IntegrationAccount).where(
            IntegrationAccount.kind == CHANNEL, IntegrationAccount.plugin == "email",
            IntegrationAccount.enabled.is_(True)).order_by(IntegrationAccount.name)).first()
        if found is None:
            raise InvalidInput("no enabled email channel: add one with `certvault notify channel add email ...`")
        return found


def _address(value: str) -> str:
    """One plain address (no display name, no header-breaking characters)."""
    value = value.strip()
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or len(value) > 254 or any(c in value for c in ' ,;<>"\r\n\t'):
        raise InvalidInput(f"{value[:80]!r} is not an email address")
    return value

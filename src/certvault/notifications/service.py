"""Channels, subscriptions and the outbox. Domains append events to the domain-event outbox (events/);
the notifications consumer (consumer.py) calls `publish()` for each one in its job's transaction.

A published event becomes one outbox row per subscribed channel plus a delivery job, both in the
caller's transaction: an alert exists if and only if the transaction that read the event commits.
"""

from __future__ import annotations

import base64
import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, select

from certvault.auth.rbac import Actor, Permission, require
from certvault.context import ServiceContext
from certvault.db.lookup import by_id_or_name
from certvault.errors import Conflict, InvalidInput, NotFound
from certvault.events.catalogue import check_pattern
from certvault.integrations.models import IntegrationAccount
from certvault.integrations.service import IntegrationService
from certvault.notifications import collate, digest, policies
from certvault.notifications.events import EXPIRED, EXPIRING
from certvault.notifications.models import (
    NotificationPolicy,
    NotificationSubscription,
    OutboxMessage,
    ScanFindingNotice,
)
from certvault.notifications.policies import PolicySpec
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
            messages.append(self._queue(channel_id, event, title, body, severity, clean))
        return messages

    def _queue(self, channel_id: uuid.UUID, event: str, title: str, body: str, severity: str,
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
        return self._queue(channel.id, "notification.test", "Test message from certvault",
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

    # ---- policies (policies.py) and their digests (collate.py, digest.py) ------------------------------------
    def add_policy(self, actor: Actor, spec: PolicySpec, channels: list[str] | None = None) -> NotificationPolicy:
        require(actor, Permission.SETTINGS_MANAGE)
        spec = spec.checked()
        if self._s.scalar(select(NotificationPolicy.id).where(NotificationPolicy.name == spec.name)) is not None:
            raise Conflict(f"a policy named {spec.name} exists")
        policy = NotificationPolicy(id=uuid.uuid4(), created_by=actor.name, last_result={},
                                    channel_ids=self._channel_ids(actor, channels or []))
        policies.apply(policy, spec, self._ctx.now())
        self._s.add(policy)
        self._s.flush()
        self._ctx.audit.record(actor, "notification.policy_add", target_type="notification_policy",
                               target_id=policy.id, details=self._shown(policy))
        return policy

    def update_policy(self, actor: Actor, ref: str | uuid.UUID, changes: dict[str, Any],
                      channels: list[str] | None = None) -> NotificationPolicy:
        """`changes`: any PolicySpec field; `channels` (names or ids) replaces the list when given."""
        policy = self.get_policy(actor, ref)
        unknown = set(changes) - set(PolicySpec.__dataclass_fields__)
        if unknown:
            raise InvalidInput(f"unknown policy field {', '.join(sorted(unknown))}")
        spec = dataclasses.replace(policies.spec_of(policy), **changes).checked()
        clash = self._s.scalar(select(NotificationPolicy.id).where(NotificationPolicy.name == spec.name,
                                                                   NotificationPolicy.id != policy.id))
        if clash is not None:
            raise Conflict(f"a policy named {spec.name} exists")
        if channels is not None:
            policy.channel_ids = self._channel_ids(actor, channels)
        policies.apply(policy, spec, self._ctx.now())
        self._ctx.audit.record(actor, "notification.policy_update", target_type="notification_policy",
                               target_id=policy.id, details=self._shown(policy))
        return policy

    def delete_policy(self, actor: Actor, ref: str | uuid.UUID) -> None:
        policy = self.get_policy(actor, ref)
        if policy.is_default:
            raise InvalidInput(f"{policy.name} is the default policy: disable it instead")
        self._ctx.audit.record(actor, "notification.policy_delete", target_type="notification_policy",
                               target_id=policy.id, details={"name": policy.name})
        self._s.delete(policy)

    def list_policies(self, actor: Actor) -> list[NotificationPolicy]:
        require(actor, Permission.SETTINGS_MANAGE)
        return list(self._s.scalars(select(NotificationPolicy).order_by(NotificationPolicy.name)))

    def get_policy(self, actor: Actor, ref: str | uuid.UUID) -> NotificationPolicy:
        require(actor, Permission.SETTINGS_MANAGE)
        policy = by_id_or_name(self._s, NotificationPolicy, ref, NotificationPolicy.name)
        if policy is None:
            raise NotFound(f"no notification policy {ref}")
        return policy

    def channel_names(self, policy: NotificationPolicy) -> list[str]:
        """The channels a policy sends to, by name ("every email channel" when it names none)."""
        if not policy.channel_ids:
            return []
        ids = [uuid.UUID(i) for i in policy.channel_ids]
        return list(self._s.scalars(select(IntegrationAccount.name).where(IntegrationAccount.id.in_(ids))))

    def _channel_ids(self, actor: Actor, refs: list[str]) -> list[str]:
        return list(dict.fromkeys(str(self.get_channel(actor, ref).id) for ref in refs))

    def _shown(self, policy: NotificationPolicy) -> dict[str, Any]:
        return {"name": policy.name, "kind": policy.kind, "within_days": policy.within_days,
                "schedule": policy.schedule, "timezone": policy.timezone, "filters": policy.filters,
                "scope": policy.scope, "enabled": policy.enabled, "channels": self.channel_names(policy)}

    def _targets(self, policy: NotificationPolicy) -> list[IntegrationAccount]:
        stmt = select(IntegrationAccount).where(IntegrationAccount.kind == CHANNEL,
                                                IntegrationAccount.enabled.is_(True))
        if policy.channel_ids:
            stmt = stmt.where(IntegrationAccount.id.in_([uuid.UUID(i) for i in policy.channel_ids]))
        else:
            stmt = stmt.where(IntegrationAccount.plugin == "email")
        return list(self._s.scalars(stmt.order_by(IntegrationAccount.name)))

    def run_policy(self, actor: Actor, ref: str | uuid.UUID) -> dict[str, Any]:
        """Run now (the schedule is unchanged): one digest per channel, in this transaction's outbox."""
        policy = self.get_policy(actor, ref)
        now = self._ctx.now()
        since = None
        if policy.kind == "vulnerability":
            since = policy.scan_mark if policy.scope == "new" else datetime(1970, 1, 1, tzinfo=UTC)
            policy.scan_mark = now
        result = self._run(policy, now, since)
        self._ctx.audit.record(actor, "notification.policy_run", target_type="notification_policy",
                               target_id=policy.id, details=result)
        return result

    def due_policies(self) -> list[uuid.UUID]:
        return policies.due(self._s, self._ctx.now())

    def run_due(self, policy_id: uuid.UUID) -> dict[str, Any] | None:
        """The policy's scheduled run (or, for a vulnerability policy, its run after finished scans), once."""
        policy = self._s.get(NotificationPolicy, policy_id)
        if policy is None or not policy.enabled:
            return None
        now = self._ctx.now()
        if policy.kind != "vulnerability":
            return self._run(policy, now) if policies.claim_slot(self._s, policy, now) else None
        mark = policy.scan_mark or now
        if collate.scans_since(self._s, mark, now) is None:
            return None
        since = policies.claim_scans(self._s, policy, now)
        return None if since is None else self._run(policy, now, since)

    def _run(self, policy: NotificationPolicy, now: datetime, since: datetime | None = None) -> dict[str, Any]:
        public_url = self._ctx.settings.server.effective_public_url
        if policy.kind == "vulnerability":
            assert since is not None
            found = (collate.new_findings(self._s, since, now) if policy.scope == "new"
                     else collate.weak_endpoints(self._s, since))
            made = digest.vulnerability(policy.name, policy.scope, found, now, public_url) if found else None
            count = {"endpoints": len(found)}
        else:
            certs = collate.expiring(self._s, now, policy.within_days, policy.filters)
            report = policy.kind == "report"
            made = digest.expiry(policy.name, policy.within_days, certs, now, public_url, report=report) \
                if certs or report else None
            count = {"certificates": len(certs)}
            if certs and not report:
                self._publish_expiry(policy, certs)
        targets = self._targets(policy) if made is not None else []
        messages = [self._queue_digest(channel.id, made) for channel in targets if made is not None]
        result = {"policy": policy.name, "kind": policy.kind, **count, "channels": [c.name for c in targets],
                  "messages": [str(m.id) for m in messages]}
        policy.last_run_at, policy.last_result = now, result
        return result

    def _queue_digest(self, channel_id: uuid.UUID, made: digest.Digest) -> OutboxMessage:
        attachments = None
        if made.csv is not None and made.csv_name:
            attachments = [{"filename": made.csv_name, "content_type": "text/csv",
                            "data": base64.b64encode(made.csv).decode()}]
        return self._queue(channel_id, made.event, made.title, made.body, made.severity, made.details,
                           html=made.html, attachments=attachments, items=made.items)

    def _publish_expiry(self, policy: NotificationPolicy, certs: list[collate.ExpiringCertificate]) -> None:
        """One certificate.expiring (and one certificate.expired) event for the run, for subscribed channels."""
        for name, group in ((EXPIRING, [c for c in certs if c.days_left >= 0]),
                            (EXPIRED, [c for c in certs if c.days_left < 0])):
            if not group:
                continue
            listed = ", ".join(f"{c.common_name} ({c.not_after:%Y-%m-%d})" for c in group[:20])
            more = f" and {len(group) - 20} more" if len(group) > 20 else ""
            title = (f"{len(group)} certificates expire within {policy.within_days} days" if name == EXPIRING
                     else f"{len(group)} certificates have expired")
            self._ctx.events.publish(name, title=title, body=f"{listed}{more}.", severity="warning",
                                     subject=policy.name, payload={
                                         "policy": policy.name, "count": len(group),
                                         "certificates": [{"id": c.id, "common_name": c.common_name,
                                                           "not_after": c.not_after, "days_left": c.days_left}
                                                          for c in group[:100]]})

    def expiry_report_csv(self, actor: Actor, within_days: int = 30,
                          filters: dict[str, Any] | None = None) -> bytes:
        """The expiry report as CSV (download from the UI, API and CLI)."""
        require(actor, Permission.CERTIFICATES_READ)
        if not 1 <= within_days <= policies.MAX_WINDOW:
            raise InvalidInput(f"within days: use 1 to {policies.MAX_WINDOW}")
        certs = collate.expiring(self._s, self._ctx.now(), within_days, collate.check_filters(filters or {}))
        return digest.expiry_csv(certs)

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
        return self._queue(channel.id, "certificate.renewed", title, body, "info", details,
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

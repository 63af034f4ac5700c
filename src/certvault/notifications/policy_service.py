"""Notification policies: add, change and run them; each run collates what it finds (collate.py) into one
digest per channel (digest.py) queued in the notifications outbox, in the caller's transaction.

When a policy is due and how a run is claimed once: policies.py. The job: jobs.py (every minute).
"""

from __future__ import annotations

import base64
import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from certvault.auth.models import User
from certvault.auth.rbac import Actor, Permission, Role, require
from certvault.context import ServiceContext
from certvault.db.lookup import by_id_or_name
from certvault.errors import Conflict, InvalidInput, NotFound
from certvault.integrations.models import IntegrationAccount
from certvault.notifications import collate, digest, policies
from certvault.notifications.events import EXPIRED, EXPIRING
from certvault.notifications.models import NotificationPolicy, OutboxMessage
from certvault.notifications.policies import PolicySpec
from certvault.notifications.service import CHANNEL, NotificationService


class PolicyService:
    def __init__(self, ctx: ServiceContext, notifications: NotificationService) -> None:
        self._ctx = ctx
        self._s = ctx.session
        self._notify = notifications

    def add(self, actor: Actor, spec: PolicySpec, channels: list[str] | None = None) -> NotificationPolicy:
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

    def update(self, actor: Actor, ref: str | uuid.UUID, changes: dict[str, Any],
                      channels: list[str] | None = None) -> NotificationPolicy:
        """`changes`: any PolicySpec field; `channels` (names or ids) replaces the list when given."""
        policy = self.get(actor, ref)
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

    def delete(self, actor: Actor, ref: str | uuid.UUID) -> None:
        policy = self.get(actor, ref)
        if policy.is_default:
            raise InvalidInput(f"{policy.name} is the default policy: disable it instead")
        self._ctx.audit.record(actor, "notification.policy_delete", target_type="notification_policy",
                               target_id=policy.id, details={"name": policy.name})
        self._s.delete(policy)

    def list_policies(self, actor: Actor) -> list[NotificationPolicy]:
        require(actor, Permission.SETTINGS_MANAGE)
        return list(self._s.scalars(select(NotificationPolicy).order_by(NotificationPolicy.name)))

    def get(self, actor: Actor, ref: str | uuid.UUID) -> NotificationPolicy:
        require(actor, Permission.SETTINGS_MANAGE)
        policy = by_id_or_name(self._s, NotificationPolicy, ref, NotificationPolicy.name)
        if policy is None:
            raise NotFound(f"no notification policy {ref}")
        return policy

    def channel_names(self, policy: NotificationPolicy) -> list[str]:
        """The channels a policy names (none: the administrators' email, see _targets)."""
        if not policy.channel_ids:
            return []
        ids = [uuid.UUID(i) for i in policy.channel_ids]
        return list(self._s.scalars(select(IntegrationAccount.name).where(IntegrationAccount.id.in_(ids))))

    def _channel_ids(self, actor: Actor, refs: list[str]) -> list[str]:
        return list(dict.fromkeys(str(self._notify.get_channel(actor, ref).id) for ref in refs))

    def _shown(self, policy: NotificationPolicy) -> dict[str, Any]:
        return {"name": policy.name, "kind": policy.kind, "within_days": policy.within_days,
                "schedule": policy.schedule, "timezone": policy.timezone, "filters": policy.filters,
                "scope": policy.scope, "enabled": policy.enabled, "channels": self.channel_names(policy)}

    def _targets(self, policy: NotificationPolicy) -> list[tuple[IntegrationAccount, list[str] | None]]:
        """The enabled channels the policy names; when it names none (the default policy), the first enabled
        email channel addressed to the administrators (active, with an email address), or to the channel's own
        recipients when no administrator has one."""
        stmt = select(IntegrationAccount).where(IntegrationAccount.kind == CHANNEL,
                                                IntegrationAccount.enabled.is_(True))
        if policy.channel_ids:
            stmt = stmt.where(IntegrationAccount.id.in_([uuid.UUID(i) for i in policy.channel_ids]))
            return [(channel, None) for channel in self._s.scalars(stmt.order_by(IntegrationAccount.name))]
        mail = self._s.scalars(stmt.where(IntegrationAccount.plugin == "email").order_by(IntegrationAccount.name)
                               ).first()
        if mail is None:
            return []
        admins: list[str] = [e for e in self._s.scalars(select(User.email).where(
            User.role == Role.ADMINISTRATOR.value, User.is_active.is_(True), User.email.is_not(None),
            User.email != "").order_by(User.email)) if e]
        return [(mail, admins or None)]

    def run(self, actor: Actor, ref: str | uuid.UUID) -> dict[str, Any]:
        """Run now (the schedule is unchanged): one digest per channel, in this transaction's outbox."""
        policy = self.get(actor, ref)
        now = self._ctx.now()
        since = None
        if policy.kind == "vulnerability":
            since = policy.scan_mark if policy.scope == "new" else datetime(1970, 1, 1, tzinfo=UTC)
            policy.scan_mark = now
        result = self._run(policy, now, since)
        self._ctx.audit.record(actor, "notification.policy_run", target_type="notification_policy",
                               target_id=policy.id, details=result)
        return result

    def due(self) -> list[uuid.UUID]:
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
        messages = [self._queue_digest(channel.id, made, to) for channel, to in targets if made is not None]
        result = {"policy": policy.name, "kind": policy.kind, **count, "channels": [c.name for c, _ in targets],
                  "messages": [str(m.id) for m in messages]}
        policy.last_run_at, policy.last_result = now, result
        return result

    def _queue_digest(self, channel_id: uuid.UUID, made: digest.Digest, to: list[str] | None) -> OutboxMessage:
        attachments = None
        if made.csv is not None and made.csv_name:
            attachments = [{"filename": made.csv_name, "content_type": "text/csv",
                            "data": base64.b64encode(made.csv).decode()}]
        return self._notify.queue_message(channel_id, made.event, made.title, made.body, made.severity, made.details,
                                          html=made.html, attachments=attachments, items=made.items, recipients=to)

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

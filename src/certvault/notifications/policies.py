"""Notification policies: validated settings, when each is due, and claiming a due run exactly once.

A run is claimed by moving the policy's mark (`next_run_at`, or `scan_mark` for vulnerability policies)
with a conditional UPDATE: of two workers that saw the same due policy, one changes a row, the other none.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from certvault.errors import InvalidInput
from certvault.names import check_name
from certvault.notifications import schedule
from certvault.notifications.collate import check_filters
from certvault.notifications.models import NotificationPolicy

KINDS = ("expiry", "vulnerability", "report")
SCOPES = ("new", "all")
MAX_WINDOW = 3650


@dataclass(frozen=True)
class PolicySpec:
    """What a user sets; every field checked by `checked()`."""

    name: str
    kind: str = "expiry"
    within_days: int = 30
    schedule: str = "daily 08:00"
    timezone: str = "UTC"
    filters: dict[str, Any] | None = None
    scope: str = "new"
    enabled: bool = True

    def checked(self) -> PolicySpec:
        check_name(self.name, "policy name", 150)
        if self.kind not in KINDS:
            raise InvalidInput(f"policy kind {self.kind!r}: use {', '.join(KINDS)}")
        if not 1 <= self.within_days <= MAX_WINDOW:
            raise InvalidInput(f"within days: use 1 to {MAX_WINDOW}")
        if self.scope not in SCOPES:
            raise InvalidInput(f"scope {self.scope!r}: use new (weaknesses found since the last run) or all")
        text = schedule.parse(self.schedule).text
        schedule.zone(self.timezone)
        return PolicySpec(self.name, self.kind, self.within_days, text, self.timezone,
                          check_filters(self.filters or {}), self.scope, self.enabled)


def apply(policy: NotificationPolicy, spec: PolicySpec, now: datetime) -> None:
    policy.name, policy.kind, policy.within_days = spec.name, spec.kind, spec.within_days
    policy.schedule, policy.timezone, policy.filters = spec.schedule, spec.timezone, dict(spec.filters or {})
    policy.scope, policy.enabled = spec.scope, spec.enabled
    policy.next_run_at = first_run(policy, now)
    if policy.scan_mark is None:
        policy.scan_mark = now


def spec_of(policy: NotificationPolicy) -> PolicySpec:
    return PolicySpec(policy.name, policy.kind, policy.within_days, policy.schedule, policy.timezone,
                      dict(policy.filters), policy.scope, policy.enabled)


def first_run(policy: NotificationPolicy, now: datetime) -> datetime | None:
    """Scheduled kinds run at their next slot; vulnerability policies run after scans, not on a clock."""
    if policy.kind == "vulnerability":
        return None
    return schedule.next_run(schedule.parse(policy.schedule), policy.timezone, now)


def due(session: Session, now: datetime) -> list[uuid.UUID]:
    """Enabled scheduled policies whose time has come, and every enabled vulnerability policy (it checks scans
    itself). A scheduled policy without a time yet (the default one, created by a migration) gets one."""
    for policy in session.scalars(select(NotificationPolicy).where(NotificationPolicy.next_run_at.is_(None),
                                                                   NotificationPolicy.kind != "vulnerability")):
        policy.next_run_at = first_run(policy, now)
    stmt = select(NotificationPolicy.id).where(
        NotificationPolicy.enabled.is_(True),
        (NotificationPolicy.next_run_at <= now) | (NotificationPolicy.kind == "vulnerability"))
    return list(session.scalars(stmt.order_by(NotificationPolicy.name)))


def claim_slot(session: Session, policy: NotificationPolicy, now: datetime) -> bool:
    """Move a due scheduled policy to its next slot; False when another worker already did."""
    seen = policy.next_run_at
    if seen is None or seen > now:
        return False
    following = schedule.next_run(schedule.parse(policy.schedule), policy.timezone, now)
    result = session.execute(update(NotificationPolicy)
                             .where(NotificationPolicy.id == policy.id, NotificationPolicy.next_run_at == seen)
                             .values(next_run_at=following).execution_options(synchronize_session=False))
    session.refresh(policy)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def claim_scans(session: Session, policy: NotificationPolicy, until: datetime) -> datetime | None:
    """Move a vulnerability policy's scan mark to `until`; the previous mark, or None when another worker won."""
    seen = policy.scan_mark
    if seen is None or seen >= until:
        return None
    result = session.execute(update(NotificationPolicy)
                             .where(NotificationPolicy.id == policy.id, NotificationPolicy.scan_mark == seen)
                             .values(scan_mark=until).execution_options(synchronize_session=False))
    session.refresh(policy)
    return seen if result.rowcount else None  # type: ignore[attr-defined]

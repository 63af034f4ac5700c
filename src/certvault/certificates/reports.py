"""Aggregates over the inventory for the dashboard and metrics; each is a handful of index range counts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from certvault.certificates.models import CertificateEntry

WEEKS = 12


def _count(session: Session, start: datetime | None, end: datetime | None) -> int:
    # Only entries with a signed certificate have not_after, so the not_after index alone answers this.
    stmt = select(func.count(CertificateEntry.not_after)).where(CertificateEntry.not_after.is_not(None))
    if start is not None:
        stmt = stmt.where(CertificateEntry.not_after >= start)
    if end is not None:
        stmt = stmt.where(CertificateEntry.not_after < end)
    return int(session.scalar(stmt) or 0)


def expiry_summary(session: Session, now: datetime) -> dict[str, Any]:
    week0 = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    weeks = []
    for index in range(WEEKS):
        start = week0 + timedelta(weeks=index)
        weeks.append({"start": start.date().isoformat(), "label": start.strftime("%d %b"),
                      "count": _count(session, max(start, now), start + timedelta(weeks=1))})
    pending = session.scalar(select(func.count()).select_from(CertificateEntry)
                             .where(CertificateEntry.status == "pending"))
    return {"total": _count(session, None, None), "expired": _count(session, None, now),
            "within_7": _count(session, now, now + timedelta(days=7)),
            "within_30": _count(session, now, now + timedelta(days=30)),
            "within_90": _count(session, now, now + timedelta(days=90)), "weeks": weeks, "pending": int(pending or 0)}


def counts_by_state(session: Session, now: datetime) -> dict[tuple[str, bool], int]:
    out: dict[tuple[str, bool], int] = {}
    spans = {"expired": (None, now), "expiring": (now, now + timedelta(days=30)),
             "valid": (now + timedelta(days=30), None)}
    for state, (start, end) in spans.items():
        stmt = (select(CertificateEntry.managed, func.count()).where(CertificateEntry.not_after.is_not(None))
                .group_by(CertificateEntry.managed))
        if start is not None:
            stmt = stmt.where(CertificateEntry.not_after >= start)
        if end is not None:
            stmt = stmt.where(CertificateEntry.not_after < end)
        for managed, count in session.execute(stmt):
            out[(state, bool(managed))] = int(count)
    return out

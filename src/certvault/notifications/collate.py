"""What a policy run gathers: certificates in an expiry window (with the policy's filters), and weak endpoints.

Read-only queries over the inventory and the scanner's tables; one query per run, bounded by LIMIT.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from certvault.certificates.models import CertificateEntry, CertificateTag, CertificateVersion
from certvault.db.search import contains
from certvault.errors import InvalidInput
from certvault.notifications.models import ScanFindingNotice
from certvault.scanning.models import ScanEndpoint, ScanFinding, ScanRun

LIMIT = 50_000  # rows in one digest or report
FILTER_KEYS = ("tags", "issuers", "owners", "origin")
ORIGINS = ("managed", "discovered")
STUCK = timedelta(days=1)


@dataclass(frozen=True)
class ExpiringCertificate:
    id: str
    common_name: str
    names: list[str]
    issuer: str
    serial: str
    not_after: datetime
    days_left: int
    owner: str
    tags: list[str]
    managed: bool

    @property
    def state(self) -> str:
        return "expired" if self.days_left < 0 else "expiring"


@dataclass(frozen=True)
class WeakEndpoint:
    host: str
    ip: str
    port: int
    findings: list[str]


def check_filters(filters: dict[str, Any]) -> dict[str, Any]:
    """tags / issuers / owners: lists of words (any matches); origin: managed | discovered."""
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise InvalidInput(f"unknown filter {', '.join(sorted(unknown))}; use {', '.join(FILTER_KEYS)}")
    clean: dict[str, Any] = {}
    for key in ("tags", "issuers", "owners"):
        values = [str(v).strip() for v in filters.get(key) or [] if str(v).strip()]
        if len(values) > 50 or any(len(v) > 255 for v in values):
            raise InvalidInput(f"filter {key}: at most 50 values of up to 255 characters")
        if values:
            clean[key] = values
    origin = filters.get("origin")
    if origin:
        if origin not in ORIGINS:
            raise InvalidInput(f"filter origin {origin!r}: use managed or discovered")
        clean["origin"] = origin
    return clean


def _filtered(stmt: Any, filters: dict[str, Any]) -> Any:
    if filters.get("tags"):
        tags = [t.lower() for t in filters["tags"]]
        stmt = stmt.where(exists().where(CertificateTag.entry_id == CertificateEntry.id, CertificateTag.tag.in_(tags)))
    if filters.get("issuers"):
        stmt = stmt.where(or_(*(contains(CertificateEntry.issuer_cn, i, ignore_case=True) for i in filters["issuers"])))
    if filters.get("owners"):
        stmt = stmt.where(or_(*(contains(CertificateEntry.owner, o, ignore_case=True) for o in filters["owners"])))
    if filters.get("origin"):
        stmt = stmt.where(CertificateEntry.managed.is_(filters["origin"] == "managed"))
    return stmt


def expiring(session: Session, now: datetime, within_days: int, filters: dict[str, Any]) -> list[ExpiringCertificate]:
    """Active certificates whose current version ends within `within_days` (expired ones included)."""
    stmt = (select(CertificateEntry, CertificateVersion)
            .join(CertificateVersion, CertificateVersion.id == CertificateEntry.current_version_id)
            .where(CertificateEntry.status == "active",
                   CertificateEntry.not_after < now + timedelta(days=within_days))
            .order_by(CertificateEntry.not_after, CertificateEntry.id).limit(LIMIT))
    rows = session.execute(_filtered(stmt, filters)).all()
    return [ExpiringCertificate(
        id=str(entry.id), common_name=entry.common_name or version.common_name, names=list(version.sans or []),
        issuer=entry.issuer_cn, serial=version.serial, not_after=version.not_after,
        days_left=(version.not_after - now).days, owner=entry.owner or "", tags=entry.tags,
        managed=entry.managed) for entry, version in rows]


# ---- vulnerability policies --------------------------------------------------------------------------------
def scans_since(session: Session, mark: datetime, now: datetime) -> datetime | None:
    """The latest end of a scan run finished after `mark`, once no run is queued or running (a run stuck in
    that state for a day no longer holds the digest back); else None."""
    busy = exists().where(ScanRun.status.in_(("queued", "running")), ScanRun.created_at > now - STUCK)
    if session.scalar(select(busy)):
        return None
    return session.scalar(select(ScanRun.finished_at).where(ScanRun.finished_at > mark)
                          .order_by(ScanRun.finished_at.desc()).limit(1))


def new_findings(session: Session, after: datetime, until: datetime) -> list[WeakEndpoint]:
    """New weaknesses read from the event outbox in (after, until], one row per endpoint."""
    merged: dict[tuple[str, str, int], list[str]] = {}
    for row in session.scalars(select(ScanFindingNotice).where(ScanFindingNotice.recorded_at > after,
                                                               ScanFindingNotice.recorded_at <= until)
                               .order_by(ScanFindingNotice.recorded_at).limit(LIMIT)):
        found = merged.setdefault((row.host, row.ip, row.port), [])
        found += [f for f in row.findings if f not in found]
    return [WeakEndpoint(host, ip, port, findings) for (host, ip, port), findings in merged.items()]


def weak_endpoints(session: Session, scanned_after: datetime) -> list[WeakEndpoint]:
    """Every endpoint scanned after `scanned_after` that has weaknesses now."""
    stmt = (select(ScanEndpoint).where(ScanEndpoint.last_scanned_at > scanned_after,
                                       exists().where(ScanFinding.endpoint_id == ScanEndpoint.id))
            .order_by(ScanEndpoint.host, ScanEndpoint.port).limit(LIMIT))
    return [WeakEndpoint(e.host, e.ip, e.port, list(e.findings or [])) for e in session.scalars(stmt)]

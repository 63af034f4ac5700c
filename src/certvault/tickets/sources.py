"""What the rules apply to, read from the inventory and the latest scans (read only).

Expiry: every stored certificate whose current version ends within the window (key: its serial).
Vulnerability: every reachable scanned endpoint whose latest result has a weakness (key: domain@IP, the
domain being the name scanned (SNI or host; a SAN is scanned under its own name), else the common name).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from certvault.certificates.models import CertificateEntry, CertificateVersion, Sighting
from certvault.crypto.names import is_ip_address
from certvault.scanning.findings import (
    VULNERABILITY_LABELS,
    WEAK_CIPHERS,
    WEAK_KEY_EXCHANGE,
    describe,
    parse_not_after,
    weak_cipher_list,
)
from certvault.scanning.models import ScanEndpoint, ScanFinding, ScanResult
from certvault.tickets.texts import ExpiryFacts, VulnerabilityFacts

# The findings that make an endpoint "vulnerable" for tickets: weak ciphers, the named attacks, revocation.
VULNERABLE = frozenset({WEAK_CIPHERS, WEAK_KEY_EXCHANGE, "certificate:revoked", "protocol:SSLv2", "protocol:SSLv3",
                        *VULNERABILITY_LABELS})


@dataclass(frozen=True)
class ExpiringCertificate:
    entry_id: uuid.UUID
    facts: ExpiryFacts


@dataclass(frozen=True)
class CurrentVersion:
    serial: str
    common_name: str
    not_after: datetime | None


def expiring(session: Session, now: datetime, within_days: int) -> list[ExpiringCertificate]:
    stmt = (select(CertificateEntry.id, CertificateVersion.serial, CertificateVersion.common_name,
                   CertificateVersion.not_after)
            .join(CertificateVersion, CertificateVersion.id == CertificateEntry.current_version_id)
            .where(CertificateEntry.status == "active",
                   CertificateEntry.not_after <= now + timedelta(days=within_days))
            .order_by(CertificateEntry.not_after, CertificateEntry.id))
    rows = session.execute(stmt).all()
    ips = _addresses(session, [r[0] for r in rows])
    return [ExpiringCertificate(r[0], ExpiryFacts(r[1].upper(), r[2] or r[1], r[3], ips.get(r[0], "")))
            for r in rows]


def _addresses(session: Session, entry_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The address each certificate was last seen at (for the record's IP column)."""
    out: dict[uuid.UUID, str] = {}
    for chunk in _chunks(entry_ids, 500):
        latest = (select(Sighting.entry_id, func.max(Sighting.last_seen).label("seen"))
                  .where(Sighting.entry_id.in_(chunk)).group_by(Sighting.entry_id).subquery())
        stmt = select(Sighting.entry_id, Sighting.ip).join(
            latest, (latest.c.entry_id == Sighting.entry_id) & (latest.c.seen == Sighting.last_seen))
        out.update({entry_id: ip for entry_id, ip in session.execute(stmt)})
    return out


def current_versions(session: Session, entry_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, CurrentVersion]:
    out: dict[uuid.UUID, CurrentVersion] = {}
    for chunk in _chunks(list(entry_ids), 500):
        stmt = (select(CertificateEntry.id, CertificateVersion.serial, CertificateVersion.common_name,
                       CertificateVersion.not_after)
                .join(CertificateVersion, CertificateVersion.id == CertificateEntry.current_version_id)
                .where(CertificateEntry.id.in_(chunk)))
        out.update({r[0]: CurrentVersion(r[1].upper(), r[2], r[3]) for r in session.execute(stmt)})
    return out


@dataclass(frozen=True)
class ScannedEndpoint:
    endpoint_id: uuid.UUID
    result_id: uuid.UUID | None
    domain: str
    ip: str
    vulnerable: bool

    @property
    def key(self) -> str:
        return f"{self.domain}@{self.ip}"


def endpoints(session: Session) -> list[ScannedEndpoint]:
    """Every reachable endpoint with its latest result, vulnerable or not (clean ones resolve tickets)."""
    weak = set(session.scalars(select(ScanFinding.endpoint_id).where(ScanFinding.name.in_(VULNERABLE)).distinct()))
    stmt = (select(ScanEndpoint.id, ScanEndpoint.latest_result_id, ScanEndpoint.host, ScanEndpoint.sni,
                   ScanEndpoint.ip, ScanEndpoint.cert_subject)
            .where(ScanEndpoint.status == "ok").order_by(ScanEndpoint.host, ScanEndpoint.id))
    out = []
    for endpoint_id, result_id, host, sni, ip, subject in session.execute(stmt):
        domain = sni or host
        if is_ip_address(domain) and subject:
            domain = _cn(subject) or domain
        out.append(ScannedEndpoint(endpoint_id, result_id, domain.lower(), ip or host, endpoint_id in weak))
    return out


def _cn(subject: str) -> str:
    for part in subject.split(","):
        name, _, value = part.partition("=")
        if name.strip().upper() == "CN":
            return value.strip()
    return ""


def vulnerability_facts(session: Session, endpoint: ScannedEndpoint) -> VulnerabilityFacts:
    row = session.get(ScanResult, endpoint.result_id) if endpoint.result_id else None
    result: dict[str, Any] = row.result if row is not None else {}
    cert = result.get("certificate") or {}
    ciphers = list(dict.fromkeys(str(c["name"]) for c in weak_cipher_list(result)))
    named = [f for f in (row.findings if row is not None else []) if f in VULNERABLE and f != WEAK_CIPHERS]
    return VulnerabilityFacts(
        domain=endpoint.domain, ip=endpoint.ip, common_name=str(cert.get("common_name") or endpoint.domain),
        serial=str(cert.get("serial") or ""), weak_ciphers=tuple(ciphers), findings=tuple(describe(f) for f in named),
        signature_algorithm=str(cert.get("signature_algorithm") or ""),
        not_after=parse_not_after(cert.get("not_after")), scanned_at=row.scanned_at if row is not None else None)


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]

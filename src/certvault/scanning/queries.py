"""Reading scan data: the endpoint list with filters, one endpoint's history, events and the outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import Session

from certvault.db import keyset
from certvault.db.keyset import COUNT_CAP, KeyColumn, Keyset
from certvault.db.search import contains
from certvault.errors import InvalidInput, NotFound
from certvault.scanning.findings import EVENT_TYPES, all_finding_names
from certvault.scanning.models import GRADE_ORDER, ScanEndpoint, ScanEvent, ScanFinding, ScanResult
from certvault.scanning.targets import check_text

GRADES = GRADE_ORDER  # best to worst
SORTS = {
    "host": (ScanEndpoint.host, ScanEndpoint.port, ScanEndpoint.ip),
    "grade": (ScanEndpoint.grade_rank, ScanEndpoint.host),  # worst first, never-graded last (one index)
    "expiry": (ScanEndpoint.cert_not_after, ScanEndpoint.host),
    "scanned": (ScanEndpoint.last_scanned_at.desc(), ScanEndpoint.host),
}
_HOST, _ID = KeyColumn(ScanEndpoint.host, "str"), KeyColumn(ScanEndpoint.id, "uuid")
# The web list pages by cursor through these (each one index, scanning_0004/0005); the API keeps SORTS + offset.
KEYSETS = {
    "host": Keyset("host", (_HOST, KeyColumn(ScanEndpoint.port, "int"), KeyColumn(ScanEndpoint.ip, "str"), _ID)),
    "grade": Keyset("grade", (KeyColumn(ScanEndpoint.grade_rank, "int"), _HOST, _ID)),  # worst first
    "expiry": Keyset("expiry", (KeyColumn(ScanEndpoint.cert_not_after, "datetime", nullable=True), _HOST, _ID)),
    "scanned": Keyset("scanned", (KeyColumn(ScanEndpoint.last_scanned_at, "datetime", nullable=True), _HOST, _ID),
                      descending=True),  # latest first, never scanned last
}


@dataclass(frozen=True)
class EndpointQuery:
    grade: str | None = None
    vulnerable_to: str | None = None
    expiring_within_days: int | None = None
    host: str | None = None
    status: str | None = None  # ok | unreachable
    sort: str = "host"
    limit: int = 50
    offset: int = 0
    cursor: str | None = None  # EndpointPage's cursors (endpoint_page only)


EndpointPage = keyset.ListPage[ScanEndpoint]  # the endpoint list by cursor


def normalise_finding(name: str) -> str:
    """Accept 'heartbleed', 'TLSv1.0' or 'certificate:expired'; reject names nobody produces."""
    known = all_finding_names()
    text = name.strip()
    for candidate in (text, f"protocol:{text}", f"certificate:{text}"):
        if candidate in known:
            return candidate
    lowered = {k.lower(): k for k in known}
    if text.lower() in lowered:
        return lowered[text.lower()]
    raise InvalidInput(f"vulnerable_to: unknown finding {name!r}; known: {', '.join(known)}")


class ScanQueries:
    def __init__(self, session: Session) -> None:
        self._session = session

    def endpoints(self, query: EndpointQuery, now: datetime) -> tuple[list[ScanEndpoint], int]:
        stmt = self._filtered(select(ScanEndpoint), query, now)
        total = self._session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        if query.sort not in SORTS:
            raise InvalidInput(f"sort: choose one of {', '.join(SORTS)}")
        rows = self._session.scalars(stmt.order_by(*SORTS[query.sort], ScanEndpoint.id)
                                     .limit(query.limit).offset(query.offset))
        return list(rows), total

    def endpoint_page(self, query: EndpointQuery, now: datetime) -> EndpointPage:
        """The list by cursor: every page reads its sort's index from the last row's key, no OFFSET."""
        if query.sort not in KEYSETS:
            raise InvalidInput(f"sort: choose one of {', '.join(KEYSETS)}")
        if not 1 <= query.limit <= 500:
            raise InvalidInput("limit must be between 1 and 500")
        sort = KEYSETS[query.sort]
        cursor = keyset.decode(sort, query.cursor) if query.cursor else None
        # counted up to COUNT_CAP ("10,000+"): counting 100,000 rows costs more than the page
        counted = self._filtered(select(ScanEndpoint.id), query, now).limit(COUNT_CAP + 1)
        total = self._session.scalar(select(func.count()).select_from(counted.subquery())) or 0
        found = keyset.page(self._session, select(ScanEndpoint), sort, cursor, query.limit,
                            total if total <= COUNT_CAP else None, lambda s: self._filtered(s, query, now))
        return EndpointPage.of(found, total, COUNT_CAP)

    def _filtered(self, stmt: Select[Any], query: EndpointQuery, now: datetime) -> Select[Any]:
        if query.grade:
            if query.grade not in GRADES:
                raise InvalidInput(f"grade: {query.grade!r} is not one of {', '.join(GRADES)}")
            stmt = stmt.where(ScanEndpoint.grade == query.grade)
        if query.vulnerable_to:
            finding = normalise_finding(query.vulnerable_to)
            stmt = stmt.where(select(ScanFinding.endpoint_id).where(
                ScanFinding.endpoint_id == ScanEndpoint.id, ScanFinding.name == finding).exists())
        if query.expiring_within_days is not None:
            stmt = stmt.where(ScanEndpoint.cert_not_after <= now + timedelta(days=query.expiring_within_days))
        if query.host:
            host = check_text(query.host.strip().lower(), "host")
            stmt = stmt.where(or_(contains(ScanEndpoint.host, host), contains(ScanEndpoint.ip, host)))
        if query.status:
            if query.status not in ("ok", "unreachable"):
                raise InvalidInput("status: choose ok or unreachable")
            stmt = stmt.where(ScanEndpoint.status == query.status)
        return stmt

    def endpoint(self, endpoint_id: uuid.UUID) -> ScanEndpoint:
        endpoint = self._session.get(ScanEndpoint, endpoint_id)
        if endpoint is None:
            raise NotFound(f"scan endpoint {endpoint_id} not found")
        return endpoint

    def find(self, host: str, port: int | None) -> list[ScanEndpoint]:
        name = host.strip().lower()
        stmt = select(ScanEndpoint).where(or_(ScanEndpoint.host == name, ScanEndpoint.ip == name))
        if port is not None:
            stmt = stmt.where(ScanEndpoint.port == port)
        return list(self._session.scalars(stmt.order_by(ScanEndpoint.host, ScanEndpoint.port, ScanEndpoint.ip)))

    def history(self, endpoint_id: uuid.UUID, limit: int) -> list[ScanResult]:
        stmt = (select(ScanResult).where(ScanResult.endpoint_id == endpoint_id)
                .order_by(ScanResult.scanned_at.desc(), ScanResult.id).limit(limit))
        return list(self._session.scalars(stmt))

    def run_results(self, run_id: uuid.UUID, limit: int) -> list[tuple[ScanResult, ScanEndpoint]]:
        stmt = (select(ScanResult, ScanEndpoint).join(ScanEndpoint, ScanEndpoint.id == ScanResult.endpoint_id)
                .where(ScanResult.run_id == run_id)
                .order_by(ScanEndpoint.host, ScanEndpoint.port, ScanEndpoint.ip).limit(limit))
        return [(r, e) for r, e in self._session.execute(stmt).all()]

    def result(self, result_id: uuid.UUID) -> ScanResult:
        row = self._session.get(ScanResult, result_id)
        if row is None:
            raise NotFound(f"scan result {result_id} not found")
        return row

    def events(self, *, endpoint_id: uuid.UUID | None = None, type: str | None = None,
               limit: int = 50, offset: int = 0) -> tuple[list[ScanEvent], int]:
        stmt = select(ScanEvent)
        if endpoint_id is not None:
            stmt = stmt.where(ScanEvent.endpoint_id == endpoint_id)
        if type:
            if type not in EVENT_TYPES:
                raise InvalidInput(f"type: choose one of {', '.join(EVENT_TYPES)}")
            stmt = stmt.where(ScanEvent.type == type)
        total = self._session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = self._session.scalars(stmt.order_by(ScanEvent.created_at.desc(), ScanEvent.id)
                                     .limit(limit).offset(offset))
        return list(rows), total

    def purge_results(self, older_than: datetime, limit: int) -> int:
        """Delete old history rows, never an endpoint's latest or latest reachable result."""
        kept = select(ScanEndpoint.latest_result_id).where(ScanEndpoint.latest_result_id.is_not(None)).union(
            select(ScanEndpoint.last_good_result_id).where(ScanEndpoint.last_good_result_id.is_not(None)))
        doomed = list(self._session.scalars(
            select(ScanResult.id).where(ScanResult.scanned_at < older_than, ScanResult.id.not_in(kept))
            .order_by(ScanResult.scanned_at).limit(limit)))
        if doomed:
            self._session.execute(delete(ScanResult).where(ScanResult.id.in_(doomed))
                                  .execution_options(synchronize_session=False))
        return len(doomed)

    def newest_scan(self) -> datetime | None:
        """When any endpoint was last scanned (one index lookup): grades change only with a scan."""
        return self._session.scalar(select(func.max(ScanEndpoint.last_scanned_at)))

    def grade_counts(self) -> dict[str, int]:
        rows = self._session.execute(select(ScanEndpoint.grade, func.count()).group_by(ScanEndpoint.grade))
        return {grade or "none": count for grade, count in rows}

"""Tables of the scanning domain: endpoints with their latest state, result history, change history,
runs split into batch jobs, and schedules."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, validates

from certvault.db.base import Base, JSONType, UTCDateTime, UUIDPrimaryKey, utcnow

GRADE_ORDER = ("A+", "A", "A-", "B", "C", "D", "E", "F", "M", "T")  # best to worst


def grade_rank(grade: str | None) -> int:
    """The endpoint list's grade order: worst first (T = 0), never graded last (len(GRADE_ORDER))."""
    return len(GRADE_ORDER) - 1 - GRADE_ORDER.index(grade) if grade in GRADE_ORDER else len(GRADE_ORDER)


class ScanRun(UUIDPrimaryKey, Base):
    """One scan of a set of targets: expanded into batches of targets, each scanned by one job."""

    __tablename__ = "scan_runs"
    __table_args__ = (
        # A schedule starts at most one run per due time, however many workers tick.
        UniqueConstraint("schedule_id", "scheduled_for", name="uq_scan_runs_schedule_tick"),
    )

    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")  # RUN_STATES
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # api | web | cli | schedule
    requested_by: Mapped[str] = mapped_column(String(150), nullable=False)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("scan_schedules.id", ondelete="SET NULL"))
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    total_targets: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    done_targets: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failed_targets: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    batches_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    batches_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ScanEndpoint(UUIDPrimaryKey, Base):
    """A host name (or IP) at one address, port and SNI: the unit whose history is kept.

    The latest result is denormalised here so the endpoint list needs no join.
    """

    __tablename__ = "scan_endpoints"
    __table_args__ = (
        UniqueConstraint("host", "ip", "port", "sni_key", name="uq_scan_endpoints_identity"),
        Index("ix_scan_endpoints_grade", "grade"),
        Index("ix_scan_endpoints_grade_rank_host_id", "grade_rank", "host", "id"),  # the list sorted by grade
        Index("ix_scan_endpoints_host_port_ip_id", "host", "port", "ip", "id"),  # ... by host
        Index("ix_scan_endpoints_cert_not_after_host_id", "cert_not_after", "host", "id"),  # ... by expiry
        Index("ix_scan_endpoints_last_scanned_at_host_id", "last_scanned_at", "host", "id"),  # ... by last scan
        Index("ix_scan_endpoints_cert_not_after", "cert_not_after"),
    )

    host: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    ip: Mapped[str] = mapped_column(String(64), nullable=False)  # "" when the name did not resolve
    port: Mapped[int] = mapped_column(Integer, nullable=False)
    sni: Mapped[str | None] = mapped_column(String(255))
    sni_key: Mapped[str] = mapped_column(String(255), nullable=False, default="")  # unique-able sni
    starttls: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="new")  # ok | unreachable
    grade: Mapped[str | None] = mapped_column(String(4))
    grade_rank: Mapped[int] = mapped_column(Integer, nullable=False, default=len(GRADE_ORDER),
                                            server_default=str(len(GRADE_ORDER)))  # set with grade, see below
    protocols: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    findings: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    weak_cipher_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cert_subject: Mapped[str | None] = mapped_column(Text)
    cert_fingerprint: Mapped[str | None] = mapped_column(String(64))
    cert_not_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Plain ids, not foreign keys: results already point at their endpoint, and a cycle of keys
    # would complicate inserts and deletes for nothing.
    latest_result_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    last_good_result_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # latest reachable result
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # When the served chain was last reported to the inventory (rescans refresh it at most twice a day).
    inventory_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @validates("grade")
    def _rank(self, _key: str, grade: str | None) -> str | None:
        self.grade_rank = grade_rank(grade)  # a plain indexed column: the grade sort reads an index in order
        return grade


class ScanFinding(Base):
    """The current weaknesses of an endpoint, one row each, so 'vulnerable to X' is an indexed lookup."""

    __tablename__ = "scan_findings"

    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("scan_endpoints.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), primary_key=True, index=True)


class ScanResult(UUIDPrimaryKey, Base):
    """One scan of one endpoint: the full JSON result plus the columns history views need."""

    __tablename__ = "scan_results"
    __table_args__ = (Index("ix_scan_results_endpoint_time", "endpoint_id", "scanned_at"),)

    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("scan_endpoints.id", ondelete="CASCADE"), nullable=False)
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("scan_runs.id", ondelete="SET NULL"), index=True)
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    reachable: Mapped[bool] = mapped_column(nullable=False, default=True)
    grade: Mapped[str | None] = mapped_column(String(4))
    cert_fingerprint: Mapped[str | None] = mapped_column(String(64))
    findings: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    connections: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    result: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)


class ScanEvent(UUIDPrimaryKey, Base):
    """A change between consecutive results of an endpoint: its change history, shown with the endpoint.
    Consumers (notifications, tickets) read the same changes as domain events (scanning/events.py)."""

    __tablename__ = "scan_events"

    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("scan_endpoints.id", ondelete="CASCADE"), nullable=False, index=True)
    result_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("scan_results.id", ondelete="SET NULL"))
    type: Mapped[str] = mapped_column(String(32), nullable=False, index=True)  # EVENT_TYPES
    subject: Mapped[str | None] = mapped_column(String(120))  # the finding, for weakness events
    before: Mapped[Any] = mapped_column(JSONType)
    after: Mapped[Any] = mapped_column(JSONType)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)


class ScanSchedule(UUIDPrimaryKey, Base):
    """Scan these targets daily or weekly at a time of day (UTC); the dispatcher job starts the runs."""

    __tablename__ = "scan_schedules"

    name: Mapped[str] = mapped_column(String(150), nullable=False, unique=True)
    frequency: Mapped[str] = mapped_column(String(8), nullable=False)  # daily | weekly
    weekday: Mapped[int | None] = mapped_column(Integer)  # 0 = Monday, for weekly
    time_of_day: Mapped[str] = mapped_column(String(5), nullable=False)  # HH:MM UTC
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    enabled: Mapped[bool] = mapped_column(nullable=False, default=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_by: Mapped[str] = mapped_column(String(150), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

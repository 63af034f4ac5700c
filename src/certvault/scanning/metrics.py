"""Prometheus figures of the scanning domain (listed in api/metrics.py PROVIDERS)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select

from certvault.scanning.models import ScanEndpoint, ScanFinding


def scan_metrics(svc: Any) -> Iterable[Metric]:
    """Endpoints by latest grade and endpoints per finding (unread events: events/metrics.py)."""
    session = svc.session
    grades = GaugeMetricFamily("certvault_scan_endpoints", "Scanned TLS endpoints by latest grade", labels=["grade"])
    for grade, count in session.execute(select(ScanEndpoint.grade, func.count()).group_by(ScanEndpoint.grade)):
        grades.add_metric([grade or "none"], count)
    yield grades
    findings = GaugeMetricFamily("certvault_scan_findings", "Endpoints currently showing each weakness",
                                 labels=["finding"])
    for name, count in session.execute(select(ScanFinding.name, func.count()).group_by(ScanFinding.name)):
        findings.add_metric([name], count)
    yield findings

"""Prometheus metrics of the job queue (collected by api/metrics.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select

from certvault.jobs.models import Job


def job_metrics(svc: Any) -> Iterable[Metric]:
    depth = GaugeMetricFamily("certvault_jobs", "Jobs in the queue by status", labels=["status"])
    for status, count in svc.session.execute(select(Job.status, func.count()).group_by(Job.status)):
        depth.add_metric([status], count)
    yield depth
    failed = GaugeMetricFamily("certvault_jobs_failed", "Jobs that failed permanently, by job name",
                               labels=["job"])
    stmt = select(Job.name, func.count()).where(Job.status == "failed").group_by(Job.name)
    for name, count in svc.session.execute(stmt):
        failed.add_metric([name], count)
    yield failed

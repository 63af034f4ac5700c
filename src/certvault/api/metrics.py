"""Prometheus exposition. Each domain contributes a provider that yields metric families."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select

from certvault.container import Services
from certvault.jobs.models import Job

Provider = Callable[[Services], Iterable[Metric]]

# "module:function" providers from the domains, resolved lazily.
PROVIDERS: tuple[str, ...] = (
    "certvault.api.metrics:job_metrics",
    "certvault.events.metrics:event_metrics",
    "certvault.certificates.metrics:certificate_metrics",
    "certvault.scanning.metrics:scan_metrics",
    "certvault.issuance.metrics:acme_metrics",
)


def job_metrics(svc: Services) -> Iterable[Metric]:
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


class _Collector:
    def __init__(self, svc: Services) -> None:
        self._svc = svc

    def collect(self) -> Iterable[Metric]:
        for ref in PROVIDERS:
            module, _, attr = ref.partition(":")
            provider: Provider = getattr(importlib.import_module(module), attr)
            yield from provider(self._svc)


def render_metrics(svc: Services) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(svc))
    return generate_latest(registry)

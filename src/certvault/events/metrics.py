"""Prometheus figures of the event outbox (listed in api/metrics.py PROVIDERS)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from certvault.events.consumers import CONSUMERS
from certvault.events.delivery import backlog


def event_metrics(svc: Any) -> Iterable[Metric]:
    """Events each consumer has still to read, and events it gave up on after repeated failures."""
    counts = backlog(svc.session)
    pending = GaugeMetricFamily("certvault_events_pending", "Domain events a consumer has not read yet",
                                labels=["consumer"])
    failed = GaugeMetricFamily("certvault_events_failed", "Domain events a consumer gave up on", labels=["consumer"])
    for name in sorted({*CONSUMERS, *counts}):
        pending.add_metric([name], counts.get(name, {}).get("pending", 0))
        failed.add_metric([name], counts.get(name, {}).get("failed", 0))
    yield pending
    yield failed

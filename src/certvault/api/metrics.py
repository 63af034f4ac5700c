"""Prometheus exposition. Each domain contributes a provider that yields metric families."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

from certvault.container import Services

Provider = Callable[[Services], Iterable[Metric]]

# "module:function" providers from the domains, resolved lazily.
PROVIDERS: tuple[str, ...] = (
    "certvault.jobs.metrics:job_metrics",
    "certvault.events.metrics:event_metrics",
    "certvault.certificates.metrics:certificate_metrics",
    "certvault.scanning.metrics:scan_metrics",
    "certvault.issuance.metrics:acme_metrics",
)


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

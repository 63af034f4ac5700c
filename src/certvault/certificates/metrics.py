"""Prometheus metrics of the inventory (registered in api/metrics.py PROVIDERS)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import select

from certvault.certificates.models import CertificateEntry, CertificateVersion


def certificate_metrics(svc: Any) -> Iterable[Metric]:
    """Per current certificate, the expiry timestamp cert-manager users alert on; and counts by state."""
    expiry = GaugeMetricFamily(
        "certvault_certificate_expiration_timestamp_seconds",
        "The date after which the certificate expires, as a Unix timestamp",
        labels=["id", "common_name", "issuer", "serial", "source"],
    )
    stmt = (select(CertificateEntry.id, CertificateEntry.common_name, CertificateEntry.issuer_cn,
                   CertificateVersion.serial, CertificateEntry.source, CertificateEntry.not_after)
            .join(CertificateVersion, CertificateVersion.id == CertificateEntry.current_version_id)
            .where(CertificateEntry.status == "active")
            .execution_options(yield_per=5000))
    for entry_id, cn, issuer, serial, source, not_after in svc.session.execute(stmt):
        expiry.add_metric([str(entry_id), cn, issuer, serial, source], not_after.timestamp())
    yield expiry
    states = GaugeMetricFamily("certvault_certificates", "Current certificates by expiry state and management",
                               labels=["state", "managed"])
    counts = svc.certificates.counts_by_state()
    for state in ("expired", "expiring", "valid"):
        for managed in (True, False):
            states.add_metric([state, "true" if managed else "false"], counts.get((state, managed), 0))
    yield states

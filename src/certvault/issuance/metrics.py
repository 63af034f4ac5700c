"""Prometheus figures of the ACME domain (listed in api/metrics.py PROVIDERS): orders by status,
managed renewals that are due, and certificates whose CA asked through ARI to renew now."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import case, func, select

from certvault.db.base import utcnow
from certvault.issuance.models import FAILED, STORED, AcmeAccount, AcmeOrder, ManagedCertificate

STATUSES = ("pending", "processing", "available", "failed")


def acme_metrics(svc: Any) -> Iterable[Metric]:
    session = svc.session
    yield _orders(session)
    yield from _renewals(session)


def _orders(session: Any) -> Metric:
    """Orders by the status people see (pending = waiting for a person to publish a challenge)."""
    waiting_for_person = (AcmeOrder.state == "authorizations_pending") & (AcmeOrder.fulfilment == "manual") & (
        AcmeOrder.verify_requested_at.is_(None))
    status = case((AcmeOrder.state == STORED, "available"), (AcmeOrder.state == FAILED, "failed"),
                  (waiting_for_person, "pending"), else_="processing")
    counts = dict.fromkeys(STATUSES, 0)
    for name, count in session.execute(select(status, func.count()).group_by(status)):
        counts[name] = count
    family = GaugeMetricFamily("certvault_acme_orders", "ACME orders by status", labels=["status"])
    for name in STATUSES:
        family.add_metric([name], counts[name])
    return family


def _renewals(session: Any) -> Iterable[Metric]:
    now = utcnow()
    ca = func.coalesce(AcmeAccount.ca_name, "no account")
    due = func.sum(case(((ManagedCertificate.auto_renew.is_(True)) & (ManagedCertificate.renew_at <= now), 1),
                        else_=0))
    urgent = func.sum(case((ManagedCertificate.ari_urgent.is_(True), 1), else_=0))
    stmt = (select(ca, func.count(), due, urgent)
            .select_from(ManagedCertificate)
            .outerjoin(AcmeAccount, AcmeAccount.id == ManagedCertificate.account_id)
            .where(ManagedCertificate.status == "active").group_by(ca))
    managed = GaugeMetricFamily("certvault_acme_managed_certificates",
                                "Certificates whose renewal certvault manages, by CA", labels=["ca"])
    renewals_due = GaugeMetricFamily("certvault_acme_renewals_due",
                                     "Managed certificates due for renewal now (auto-renew on), by CA", labels=["ca"])
    ari_now = GaugeMetricFamily("certvault_acme_ari_renew_now",
                                "Certificates the CA asked through ARI to renew now (e.g. mass revocation), by CA",
                                labels=["ca"])
    for ca_name, count, due_count, urgent_count in session.execute(stmt):
        managed.add_metric([ca_name], count)
        renewals_due.add_metric([ca_name], due_count or 0)
        ari_now.add_metric([ca_name], urgent_count or 0)
    yield managed
    yield renewals_due
    yield ari_now

"""ACME Renewal Information (RFC 9773) and `replaces`, against the in-process fake CA (Debian's
Pebble 2.4.0 has no ARI): a window in the past raises the "renew now" alert and the renewal order
names the certificate it replaces; a window in the future sets the renewal time inside it and
stores when to ask again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from certvault.audit.service import AuditQuery
from certvault.container import App
from certvault.events.models import DomainEvent
from certvault.issuance import events
from certvault.issuance.requests import RequestSpec
from tests.issuance.conftest import ADMIN, dns_account, metric_values, name, run_orders
from tests.servers import pebble as servers
from tests.servers.fake_acme import FakeAcmeCA


@pytest.fixture
def fake_ca(tmp_path: Path) -> Iterator[FakeAcmeCA]:
    ca = FakeAcmeCA(tmp_path / "fake-ca").start()
    yield ca
    ca.stop()


def _issue(app: App, ca: FakeAcmeCA, dns: servers.ChallTestSrv) -> tuple[uuid.UUID, str]:
    """A certificate from the fake CA through the engine: (inventory entry id, its ARI certID)."""
    dns_id = dns_account(app, dns).id
    with app.transaction() as svc:
        account = svc.issuance.accounts.register(ADMIN, ca.directory_url, "ops@example.test", True,
                                                 ca_bundle_pem=ca.tls_ca.read_text())
        assert account.ari_supported
        order = svc.issuance.requests.request(ADMIN, RequestSpec(account.id, [name("ari")], challenge="dns-01",
                                                                 dns_account_id=dns_id))
    run_orders(app)
    with app.transaction() as svc:
        order = svc.issuance.requests.get(ADMIN, order.id)
        assert order.state == "stored", order.error_message
        managed = svc.issuance.renewals.for_certificate(ADMIN, order.certificate_entry_id)
        assert managed.ari_cert_id and managed.next_check_at is not None  # asks the CA right away
        return order.certificate_entry_id, managed.ari_cert_id


def _events(app: App, type: str) -> list[DomainEvent]:
    """The ACME events in the domain-event outbox."""
    with app.sessions() as session:
        return list(session.scalars(select(DomainEvent).where(DomainEvent.type == type).order_by(DomainEvent.id)))


def _scan(app: App) -> None:
    """What the periodic job does every 5 minutes: start due renewals, ask ARI where a check is due."""
    with app.transaction() as svc:
        svc.enqueue("acme.renewals.scan", {})
    run_orders(app)


def test_window_in_the_past_alerts_renew_now_and_the_renewal_carries_replaces(
        acme_app: App, challtestsrv: servers.ChallTestSrv, fake_ca: FakeAcmeCA) -> None:
    entry_id, cert_id = _issue(acme_app, fake_ca, challtestsrv)
    now = datetime.now(UTC)
    fake_ca.windows[cert_id] = (now - timedelta(days=2), now - timedelta(days=1))
    fake_ca.explanation_url = "https://ca.example/incidents/mass-revocation"

    _scan(acme_app)  # the ARI check finds the window in the past
    with acme_app.transaction() as svc:
        managed = svc.issuance.renewals.for_certificate(ADMIN, entry_id)
        assert (managed.ari_urgent, managed.renew_reason) == (True, "ari_renew_now")
        assert managed.renew_at is not None and managed.renew_at <= datetime.now(UTC)
        assert managed.ari_explanation_url == fake_ca.explanation_url
        fleet = svc.issuance.renewals.fleet(ADMIN)
        assert [row["certificate_id"] for row in fleet["ari_urgent"]] == [entry_id]
        alerts, _ = svc.audit.search(ADMIN, AuditQuery(action="acme.ari.renew_now"))
        assert [a.target_id for a in alerts] == [str(entry_id)]
    urgent = _events(acme_app, events.ARI_RENEW_NOW)
    assert len(urgent) == 1 and urgent[0].payload["explanation_url"] == fake_ca.explanation_url
    ca_label = '{ca="' + fake_ca.base.removeprefix("https://") + '"}'
    assert metric_values(acme_app, "certvault_acme_ari_renew_now") == {f"certvault_acme_ari_renew_now{ca_label}": 1.0}
    assert metric_values(acme_app, "certvault_acme_renewals_due") == {f"certvault_acme_renewals_due{ca_label}": 1.0}
    assert metric_values(acme_app, "certvault_acme_orders") == {
        'certvault_acme_orders{status="pending"}': 0.0, 'certvault_acme_orders{status="processing"}': 0.0,
        'certvault_acme_orders{status="available"}': 1.0, 'certvault_acme_orders{status="failed"}': 0.0}

    _scan(acme_app)  # the next scan renews, naming the certificate it replaces
    assert len(fake_ca.new_orders) == 2
    assert "replaces" not in fake_ca.new_orders[0] and fake_ca.new_orders[1]["replaces"] == cert_id
    with acme_app.transaction() as svc:
        managed = svc.issuance.renewals.for_certificate(ADMIN, entry_id)
        assert managed.ari_cert_id != cert_id and not managed.ari_urgent
        assert len(svc.certificates.get(ADMIN, entry_id).versions) == 2
    assert [e.payload["certificate"] for e in _events(acme_app, events.RENEWED)] == [str(entry_id)]
    assert metric_values(acme_app, "certvault_acme_ari_renew_now") == {f"certvault_acme_ari_renew_now{ca_label}": 0.0}


def test_window_in_the_future_sets_the_renewal_time_inside_it_and_the_next_check(
        acme_app: App, challtestsrv: servers.ChallTestSrv, fake_ca: FakeAcmeCA) -> None:
    fake_ca.retry_after = 7200
    entry_id, cert_id = _issue(acme_app, fake_ca, challtestsrv)
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now + timedelta(days=10), now + timedelta(days=12)
    fake_ca.windows[cert_id] = (start, end)

    _scan(acme_app)
    with acme_app.transaction() as svc:
        managed = svc.issuance.renewals.for_certificate(ADMIN, entry_id)
        assert (managed.ari_window_start, managed.ari_window_end) == (start, end)
        assert managed.renew_reason == "ari_window" and not managed.ari_urgent and managed.last_error is None
        assert managed.renew_at is not None and start <= managed.renew_at <= end
        assert managed.ari_checked_at is not None and managed.next_check_at is not None
        # Asked again when the CA said (Retry-After), long before the renewal itself.
        wait = (managed.next_check_at - managed.ari_checked_at).total_seconds()
        assert abs(wait - 7200) < 5
        fleet: dict[str, Any] = svc.issuance.renewals.fleet(ADMIN, weeks=4)
        row = next(r for r in fleet["upcoming"] if r["certificate_id"] == entry_id)
        assert row["ari_window"] == [start, end] and row["reason"] == "ari_window"
    assert len(fake_ca.new_orders) == 1  # nothing renewed yet

"""Failures the CA reports, each ending as a failed order with the CA's reason in plain words, the
problem document kept, and nothing half-stored (no inventory entry, no managed renewal, published
responses removed): a missing TXT record and SERVFAIL seen by the CA while our own pre-check passed,
and the CA going down while an order waits for a person."""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import pytest

from certvault.container import App
from certvault.errors import Conflict
from certvault.issuance.models import AcmeOrder
from certvault.issuance.requests import RequestSpec
from certvault.issuance.schemas import OrderOut
from tests.issuance.conftest import ADMIN, metric_values, name, register, run_orders
from tests.servers import pebble as servers


@pytest.fixture(scope="session")
def shadow_dns() -> servers.ChallTestSrv:
    """A second challtestsrv: our pre-check reads it, Pebble never does (it asks the shared one)."""
    return servers.shared("challtestsrv-shadow",
                          lambda: servers.ChallTestSrv(Path(tempfile.mkdtemp(prefix="cv-shadow-"))).start())


def _shadow_account(app: App, shadow: servers.ChallTestSrv) -> uuid.UUID:
    with app.transaction() as svc:
        return svc.issuance.dns_accounts.add(  # type: ignore[no-any-return]
            ADMIN, "challtestsrv", f"shadow-{uuid.uuid4().hex[:6]}",
            {"management_url": f"http://127.0.0.1:{shadow.management_port}", "dns_server": shadow.dns}, {}).id


def _txt(server: servers.ChallTestSrv, fqdn: str) -> list[str]:
    response = dns.query.udp(dns.message.make_query(fqdn, dns.rdatatype.TXT), "127.0.0.1", timeout=2,
                             port=server.dns_port)
    return [b"".join(r.strings).decode() for rrset in response.answer for r in rrset]


def _failed_with_nothing_stored(app: App, order_id: uuid.UUID) -> OrderOut:
    with app.transaction() as svc:
        order = svc.issuance.requests.get(ADMIN, order_id)
        out = OrderOut.of(order, svc.issuance.requests.authorizations(order))
        assert (out.status, out.certificate_id, out.serial) == ("failed", None, None), out
        assert svc.issuance.renewals.list_managed(ADMIN) == []
        assert svc.certificates.counts_by_state() == {}
    return out


def test_ca_finds_no_txt_record_though_our_check_saw_it(
        acme_app: App, pebble: servers.Pebble, shadow_dns: servers.ChallTestSrv) -> None:
    account, dns_id = register(acme_app, pebble), _shadow_account(acme_app, shadow_dns)
    domain = name("notxt")
    with acme_app.transaction() as svc:
        order = svc.issuance.requests.request(ADMIN, RequestSpec(account.id, [domain], challenge="dns-01",
                                                                 dns_account_id=dns_id))
    run_orders(acme_app)
    out = _failed_with_nothing_stored(acme_app, order.id)
    assert out.error is not None and out.error.startswith(f"{domain}: the CA refused the request (unauthorized)")
    assert "No TXT records found" in out.error, out.error
    assert out.problem is not None and out.problem["type"].endswith(":unauthorized")
    assert _txt(shadow_dns, f"_acme-challenge.{domain}") == []  # our record was taken down
    assert metric_values(acme_app, "certvault_acme_orders")['certvault_acme_orders{status="failed"}'] == 1.0


def test_ca_gets_servfail_for_the_challenge_record(
        acme_app: App, pebble: servers.Pebble, challtestsrv: servers.ChallTestSrv,
        shadow_dns: servers.ChallTestSrv) -> None:
    account, dns_id = register(acme_app, pebble), _shadow_account(acme_app, shadow_dns)
    domain = name("servfail")
    challtestsrv.set_servfail(f"_acme-challenge.{domain}")
    try:
        with acme_app.transaction() as svc:
            order = svc.issuance.requests.request(ADMIN, RequestSpec(account.id, [domain], challenge="dns-01",
                                                                     dns_account_id=dns_id))
        run_orders(acme_app)
    finally:
        challtestsrv.clear_servfail(f"_acme-challenge.{domain}")
    out = _failed_with_nothing_stored(acme_app, order.id)
    # Pebble 2.4.0 words SERVFAIL (rcode 2) as an unsuccessful lookup and calls it unauthorized.
    assert out.error is not None and out.error.startswith(
        f"{domain}: the CA refused the request (unauthorized): Error retrieving TXT records"), out.error
    assert "returned an unsuccessful response" in out.error
    assert out.problem is not None and out.problem["type"].endswith(":unauthorized")


def test_ca_down_while_the_order_waits_fails_plainly_after_the_grace_period(
        acme_app: App, challtestsrv: servers.ChallTestSrv, tmp_path: Path) -> None:
    ca = servers.Pebble(tmp_path / "pebble", dns_server=challtestsrv.dns).start()
    try:
        with acme_app.transaction() as svc:
            svc.system.set(ADMIN, "acme.unavailable_grace", 1.0)
            svc.system.set(ADMIN, "acme.dns_check_servers", [challtestsrv.dns])
        account = register(acme_app, ca)
        with acme_app.transaction() as svc:  # manual dns-01: the order waits for a person
            order = svc.issuance.requests.request(ADMIN, RequestSpec(account.id, [name("down")], challenge="dns-01"))
        run_orders(acme_app)
        with acme_app.transaction() as svc:
            waiting = OrderOut.of(order := svc.issuance.requests.get(ADMIN, order.id),
                                  svc.issuance.requests.authorizations(order))
        assert waiting.status == "pending" and waiting.challenges[0].dns_name
    finally:
        ca.stop()  # the CA goes away while the person publishes the record
    record = waiting.challenges[0]
    assert record.dns_name and record.dns_value
    challtestsrv.set_txt(record.dns_name, record.dns_value)
    try:
        with acme_app.transaction() as svc:
            svc.issuance.requests.verify(ADMIN, order.id)
        run_orders(acme_app)
    finally:
        challtestsrv.clear_txt(record.dns_name)
    out = _failed_with_nothing_stored(acme_app, order.id)
    host = ca.directory_url.split("/")[2]
    assert out.error == f"the CA at {host} could not be reached (connection failed) (for 1 s; giving up)"
    assert out.error_type == "unavailable"
    with acme_app.transaction() as svc:
        assert svc.session.get(AcmeOrder, order.id).key_sealed is not None  # the key stays for "new challenge"


class _NeverVisible(servers.ChallTestSrvDNS):
    """Writes to its challtestsrv, but certvault's visibility check asks one that never has the record, for
    minutes: the order waits with its record published (until cancelled)."""

    name = "never-visible"

    class Options(servers.ChallTestSrvDNS.Options):
        check_server: str

    def propagation(self) -> Any:
        from certvault.plugins.protocols import Propagation

        return Propagation(timeout=600.0, interval=0.5)

    def visibility_servers(self, fqdn: str) -> list[Any]:
        from certvault.plugins.protocols import NameServer

        host, _, port = self.options.check_server.rpartition(":")
        return [NameServer(host, int(port))]


def test_a_cancelled_order_fails_in_words_and_takes_its_record_down(
        acme_app: App, pebble: servers.Pebble, challtestsrv: servers.ChallTestSrv,
        shadow_dns: servers.ChallTestSrv) -> None:
    account = register(acme_app, pebble)
    acme_app.process.plugins.register("dns", "never-visible", _NeverVisible)
    domain = name("cancel")
    fqdn = f"_acme-challenge.{domain}"
    with acme_app.transaction() as svc:
        dns_id = svc.issuance.dns_accounts.add(ADMIN, "never-visible", "waits", {
            "management_url": f"http://127.0.0.1:{shadow_dns.management_port}", "dns_server": shadow_dns.dns,
            "check_server": challtestsrv.dns}, {}).id
        order = svc.issuance.requests.request(ADMIN, RequestSpec(account.id, [domain], challenge="dns-01",
                                                                 dns_account_id=dns_id))
    worker = acme_app.worker(poll_interval=0.01)
    deadline = time.monotonic() + 60
    while not _txt(shadow_dns, fqdn) and time.monotonic() < deadline:
        worker.run_until_idle(timeout=2)
    assert _txt(shadow_dns, fqdn), "the order never published its record"

    with acme_app.transaction() as svc:
        svc.issuance.requests.cancel(ADMIN, order.id)
    worker.run_until_idle(timeout=30)
    assert _txt(shadow_dns, fqdn) == []  # taken down
    out = _failed_with_nothing_stored(acme_app, order.id)
    assert out.error == f"cancelled by {ADMIN.name}"
    with acme_app.transaction() as svc, pytest.raises(Conflict, match="only an unfinished order"):
        svc.issuance.requests.cancel(ADMIN, order.id)

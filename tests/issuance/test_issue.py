"""Issuance end to end against Pebble: dns-01 via a DNS account, http-01 via the standalone
responder, 100 names, wildcard + apex, manual mode, validation before the CA."""

from __future__ import annotations

from cryptography import x509

from certvault.container import App
from certvault.issuance.requests import RequestSpec, user_status
from tests.issuance.conftest import ADMIN, dns_account, name, register, run_orders
from tests.servers import pebble as servers


def _sans(app: App, entry_id: object) -> list[str]:
    with app.transaction() as svc:
        entry = svc.certificates.get(ADMIN, entry_id)
        leaf = x509.load_der_x509_certificate(entry.current.der)
    return sorted(leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                  .get_values_for_type(x509.DNSName))


def test_dns01_through_a_dns_account_stores_certificate_and_key(
        acme_app: App, pebble: servers.Pebble, challtestsrv: servers.ChallTestSrv) -> None:
    account = register(acme_app, pebble)
    dns = dns_account(acme_app, challtestsrv)
    names = [name("www"), name("api")]
    with acme_app.transaction() as svc:
        order = svc.issuance.requests.request(ADMIN, RequestSpec(account.id, names, challenge="dns-01",
                                                                 dns_account_id=dns.id))
        assert user_status(order) == "processing"
    run_orders(acme_app)
    with acme_app.transaction() as svc:
        order = svc.issuance.requests.get(ADMIN, order.id)
        assert (order.state, user_status(order)) == ("stored", "available"), order.error_message
        assert svc.certificates.current_key_pem(ADMIN, order.certificate_entry_id) is not None
        managed = svc.issuance.renewals.for_certificate(ADMIN, order.certificate_entry_id)
        assert managed.renew_reason == "one_third_lifetime" and managed.renew_at < managed.not_after
    assert _sans(acme_app, order.certificate_entry_id) == sorted(names)

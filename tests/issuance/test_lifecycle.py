"""Renewal with each key policy, revocation both ways, failures with reasons, manual mode, http-01."""

from __future__ import annotations

import time

import pytest
from cryptography import x509

from certvault.container import App
from certvault.errors import InvalidInput
from certvault.issuance.requests import RequestSpec, user_status
from certvault.issuance.schemas import OrderOut
from tests.issuance.conftest import ADMIN, dns_account, name, register, run_orders
from tests.servers import pebble as servers


def _issue(app: App, spec: RequestSpec) -> OrderOut:
    with app.transaction() as svc:
        order = svc.issuance.requests.request(ADMIN, spec)
    run_orders(app)
    with app.transaction() as svc:
        order = svc.issuance.requests.get(ADMIN, order.id)
        return OrderOut.of(order, svc.issuance.requests.authorizations(order))


def _spki(app: App, cert_id: object) -> bytes:
    with app.transaction() as svc:
        der = svc.certificates.get(ADMIN, cert_id).current.der
    from certvault.crypto.keys import spki_der

    return spki_der(x509.load_der_x509_certificate(der).public_key())


@pytest.mark.parametrize("policy", ["new", "reuse"])
def test_renewal_keeps_the_entry_and_follows_the_key_policy(
        acme_app: App, pebble: servers.Pebble, challtestsrv: servers.ChallTestSrv, policy: str) -> None:
    account, dns = register(acme_app, pebble), dns_account(acme_app, challtestsrv)
    first = _issue(acme_app, RequestSpec(account.id, [name()], challenge="dns-01", dns_account_id=dns.id,
                                         key_policy=policy))
    assert first.status == "available", first.error
    before = _spki(acme_app, first.certificate_id)
    time.sleep(1.1)  # Pebble's validity has 1 s resolution: a renewal must end later to become current
    with acme_app.transaction() as svc:
        renewal = svc.issuance.renewals.renew_now(ADMIN, first.certificate_id)
    run_orders(acme_app)
    with acme_app.transaction() as svc:
        renewal = svc.issuance.requests.get(ADMIN, renewal.id)
        assert renewal.state == "stored" and renewal.certificate_entry_id == first.certificate_id
        assert len(svc.certificates.get(ADMIN, first.certificate_id).versions) == 2
    assert (_spki(acme_app, first.certificate_id) == before) is (policy == "reuse")


def test_imported_key_is_used_first_and_on_renewal(
        acme_app: App, pebble: servers.Pebble, challtestsrv: servers.ChallTestSrv) -> None:
    from certvault.crypto import keys

    key = keys.generate("ec384")
    account, dns = register(acme_app, pebble), dns_account(acme_app, challtestsrv)
    first = _issue(acme_app, RequestSpec(account.id, [name()], challenge="dns-01", dns_account_id=dns.id,
                                         key_policy="imported", imported_key_pem=keys.to_pem(key).decode()))
    assert first.status == "available" and first.key_algorithm == "ec384"
    assert _spki(acme_app, first.certificate_id) == keys.spki_der(key.public_key())
    time.sleep(1.1)
    with acme_app.transaction() as svc:
        svc.issuance.renewals.renew_now(ADMIN, first.certificate_id)
    run_orders(acme_app)
    assert _spki(acme_app, first.certificate_id) == keys.spki_der(key.public_key())


def test_revoke_by_account_and_by_certificate_key(
        acme_app: App, pebble: servers.Pebble, challtestsrv: servers.ChallTestSrv) -> None:
    account, dns = register(acme_app, pebble), dns_account(acme_app, challtestsrv)
    certs = [_issue(acme_app, RequestSpec(account.id, [name()], challenge="dns-01", dns_account_id=dns.id))
             for _ in range(2)]
    for out, by, reason in ((certs[0], "account", 4), (certs[1], "certificate_key", 1)):
        with acme_app.transaction() as svc:
            managed = svc.issuance.revocation.revoke(ADMIN, out.certificate_id, reason, by)
        status = pebble.cert_status(int(managed.serial, 16))
        assert (status["Status"], status["Reason"]) == ("Revoked", reason)
        with acme_app.transaction() as svc:
            events, _ = svc.audit.search(ADMIN, __import__("certvault.audit.service", fromlist=["AuditQuery"])
                                         .AuditQuery(action="acme.certificate.revoke"))
            assert any(e.details.get("by") == by for e in events)


def test_manual_dns01_shows_values_and_verify_without_the_record_asks_again(
        acme_app: App, pebble: servers.Pebble, challtestsrv: servers.ChallTestSrv) -> None:
    account = register(acme_app, pebble)
    domain = name("manual")
    with acme_app.transaction() as svc:
        order = svc.issuance.requests.request(ADMIN, RequestSpec(account.id, [domain], challenge="dns-01"))
    run_orders(acme_app)
    with acme_app.transaction() as svc:
        order = svc.issuance.requests.get(ADMIN, order.id)
        out = OrderOut.of(order, svc.issuance.requests.authorizations(order))
    assert out.status == "pending" and out.challenges[0].dns_name == f"_acme-challenge.{domain}"
    assert out.challenges[0].dns_value and len(out.challenges[0].dns_value) == 43
    with acme_app.transaction() as svc:
        svc.system.set(ADMIN, "acme.verify_grace", 0.3)
        svc.issuance.requests.verify(ADMIN, order.id)
    run_orders(acme_app)
    with acme_app.transaction() as svc:
        order = svc.issuance.requests.get(ADMIN, order.id)
        assert user_status(order) == "pending" and "not visible yet" in (order.last_check or "")
        assert order.certificate_entry_id is None


def test_http01_standalone_responder_on_ipv4_and_ipv6(
        acme_app: App, pebble: servers.Pebble) -> None:
    account = register(acme_app, pebble)
    out = _issue(acme_app, RequestSpec(account.id, [name("web"), "127.0.0.1"], challenge="http-01"))
    assert out.status == "available", out.error


def test_wildcard_and_apex_and_one_hundred_names(
        acme_app: App, pebble: servers.Pebble, challtestsrv: servers.ChallTestSrv) -> None:
    account, dns = register(acme_app, pebble), dns_account(acme_app, challtestsrv)
    apex = name("apex")
    out = _issue(acme_app, RequestSpec(account.id, [apex, f"*.{apex}"], challenge="dns-01", dns_account_id=dns.id))
    assert out.status == "available", out.error
    many = [name(f"n{i}") for i in range(100)]
    out = _issue(acme_app, RequestSpec(account.id, many, challenge="dns-01", dns_account_id=dns.id))
    assert out.status == "available" and len(out.names) == 100, out.error


def test_bad_requests_are_refused_before_the_ca(acme_app: App, pebble: servers.Pebble) -> None:
    account = register(acme_app, pebble)
    cases = [
        (RequestSpec(account.id, [name(str(i)) for i in range(101)], challenge="dns-01"), "at most 100"),
        (RequestSpec(account.id, ["*.example.test"], challenge="http-01"), "only be validated with dns-01"),
        (RequestSpec(account.id, ["bad..name"], challenge="dns-01"), "not a valid domain name"),
        (RequestSpec(account.id, ["192.0.2.1"], challenge="dns-01"), "only be validated with http-01"),
        (RequestSpec(account.id, [name()], keystore="pkcs12"), "needs a password"),
        (RequestSpec(account.id, [name()], key="dsa1024"), "key must be one of"),
    ]
    for spec, message in cases:
        with pytest.raises(InvalidInput, match=message):
            with acme_app.transaction() as svc:
                svc.issuance.requests.request(ADMIN, spec)
    with acme_app.transaction() as svc:
        assert svc.issuance.requests.list_requests(ADMIN)[1] == 0

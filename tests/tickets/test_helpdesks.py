"""Every branch of the rules per help desk, with the real plugins against their HTTPS fakes over mutual
TLS: create with the exact texts, leave alone (no write), reopen, reopen impossible -> a new ticket naming
the old one, note after a new scan, resolve on renewal and on a clean scan, two tickets for two domain@IP,
an outage (5xx, 429, dropped connections) that stays pending then recovers, and mTLS refused with no or a
wrong client certificate. A second sync with nothing changed reads statuses in batches and writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from certvault.container import App
from tests.servers.test_ca import LoopbackTLS, make_loopback_tls
from tests.tickets.desks import ClientPki, Desk, add_account
from tests.tickets.seed import ADMIN, certificate, import_certificate, scan_result, serial_of, store_scan
from tests.tickets.test_rules import URL, keys, sync


def writes(desk: Desk) -> int:
    """Calls that change something (Jira searches with POST search/jql, a read: not counted)."""
    return desk.fake.writes() - sum(1 for m, path in desk.fake.log if m == "POST" and path.endswith("/search/jql"))


def _only(report_items: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(report_items) == 1, report_items
    return report_items[0]


def test_expiry_branches(sqlite_app: App, desk: Desk, tls: LoopbackTLS, client_pki: ClientPki) -> None:
    app = sqlite_app
    add_account(app, desk, tls, client_pki)
    pem = certificate("shop.example.com", 12)
    import_certificate(app, pem)
    serial = serial_of(pem)
    created = _only(sync(app).created)
    number = created["number"]
    assert (created["helpdesk"], created["kind"], created["key"]) == ("hd", "expiry", serial)
    assert desk.count() == 1 and desk.subject(number) == "SSL Certificate shop.example.com expiry"
    expires = x509.load_pem_x509_certificate(pem).not_valid_after_utc
    body = desk.body(number)
    for line in ("The SSL Certificate shop.example.com expiring soon, please take care",
                 "Common Name: shop.example.com", f"Expiry Date: {expires:%b} {expires.day}, {expires.year}",
                 f"Scanned by: certvault running at {URL}"):
        assert line in body

    written, gets = writes(desk), desk.fake.calls["GET"] + desk.fake.calls["POST"]
    for state in ("in_progress", "on_hold", "open"):
        desk.set(number, state)
        assert keys(sync(app).unchanged) == [("expiry", serial)]
    assert writes(desk) == written and desk.count() == 1  # leave alone: nothing written
    assert desk.fake.calls["GET"] + desk.fake.calls["POST"] - gets <= 3 * 2  # one batched read per sync

    desk.set(number, "resolved")
    assert _only(sync(app).reopened)["number"] == number
    assert desk.state(number) in ("open", "in_progress") and desk.count() == 1

    final = desk.make_final()
    desk.set(number, final)
    replaced = _only(sync(app).reopened)
    assert replaced["replaces"] == number and replaced["number"] != number and desk.count() == 2
    assert f"Previous ticket: {number}" in desk.body(replaced["number"])
    assert _only(sync(app).unchanged)["number"] == replaced["number"]

    import_certificate(app, certificate("shop.example.com", 300), "renewed.pem")
    resolved = _only(sync(app).resolved)
    assert resolved["number"] == replaced["number"] and desk.state(replaced["number"]) == "resolved"
    assert any("has been renewed and the new version stored" in n for n in desk.notes(replaced["number"]))
    assert sync(app).resolved == [] and desk.count() == 2


def test_vulnerability_branches(sqlite_app: App, desk: Desk, tls: LoopbackTLS, client_pki: ClientPki) -> None:
    app = sqlite_app
    add_account(app, desk, tls, client_pki)
    store_scan(app, scan_result("example.com", "192.168.0.23", weak=("TLS_RSA_WITH_RC4_128_SHA",)),
               scan_result("test.example.com", "192.168.205.35", weak=("TLS_RSA_WITH_3DES_EDE_CBC_SHA",),
                           cn="example.com"))
    first = sync(app)
    assert keys(first.created) == [("vulnerability", "example.com@192.168.0.23"),
                                   ("vulnerability", "test.example.com@192.168.205.35")]
    numbers = {i["key"]: i["number"] for i in first.created}
    san = numbers["test.example.com@192.168.205.35"]
    assert desk.subject(san) == "Vulnerabilities for test.example.com" and desk.count() == 2
    assert "Weak ciphers in use, which should be removed" in desk.body(san)
    assert "TLS_RSA_WITH_3DES_EDE_CBC_SHA" in desk.body(san) and "192.168.205.35" in desk.body(san)
    written = writes(desk)
    assert sync(app).noted == [] and writes(desk) == written

    main = numbers["example.com@192.168.0.23"]
    store_scan(app, scan_result("example.com", "192.168.0.23", weak=("TLS_RSA_WITH_RC4_128_SHA",),
                                heartbleed="vulnerable"))
    assert _only(sync(app).noted)["number"] == main
    assert any("Heartbleed" in n for n in desk.notes(main))

    desk.set(main, "resolved")
    store_scan(app, scan_result("example.com", "192.168.0.23", weak=("TLS_RSA_WITH_RC4_128_SHA",)))
    assert _only(sync(app).reopened)["number"] == main and desk.state(main) != "resolved"

    store_scan(app, scan_result("example.com", "192.168.0.23"))
    assert _only(sync(app).resolved)["number"] == main and desk.state(main) == "resolved"
    assert any("found no weaknesses" in n for n in desk.notes(main)) and desk.count() == 2


def test_outage_stays_pending_then_recovers(sqlite_app: App, desk: Desk, tls: LoopbackTLS,
                                            client_pki: ClientPki) -> None:
    app = sqlite_app
    add_account(app, desk, tls, client_pki)
    import_certificate(app, certificate("down.example.com", 9))
    for kind in ("503", "429", "drop"):
        desk.fake.fail_next(kind, 20)
        report = sync(app)
        assert report.retry and report.created == [] and report.failed, kind
        with app.transaction() as svc:
            (record, _), = svc.tickets.records(ADMIN)
            assert record.sync_state in ("pending", "failed") and record.number is None and record.error
        while desk.fake._next_failure() is not None:  # the help desk comes back
            pass
    recovered = sync(app)
    assert len(recovered.created) == 1 and not recovered.retry and desk.count() == 1
    with app.transaction() as svc:
        (record, _), = svc.tickets.records(ADMIN)
        assert (record.sync_state, record.error, record.number) == ("ok", None, recovered.created[0]["number"])


def test_mutual_tls_refused_without_or_with_a_wrong_client_certificate(
        sqlite_app: App, desk: Desk, tls: LoopbackTLS, client_pki: ClientPki) -> None:
    app = sqlite_app
    add_account(app, desk, tls, client_pki, name="wrong", keystore=client_pki.keystore(client_pki.wrong))
    import_certificate(app, certificate("mtls.example.com", 9))
    refused = sync(app)
    assert refused.created == [] and refused.failed and desk.count() == 0
    with app.transaction() as svc:
        svc.tickets.configure(ADMIN, "wrong", clear_identity=True)
    assert sync(app).created == [] and desk.count() == 0
    failures = desk.fake.handshake_failures
    assert failures >= 2
    with app.transaction() as svc:
        try:
            svc.tickets.check(ADMIN, "wrong")
        except Exception as exc:  # the test connection says why, in one line
            assert "\n" not in str(exc)
        else:
            raise AssertionError("test connection passed without a client certificate")
        svc.tickets.configure(ADMIN, "wrong", keystore=client_pki.keystore(), keystore_password="keystore-pass-7")
    assert len(sync(app).created) == 1 and desk.count() == 1


@pytest.mark.parametrize("desk", ["servicenow"], indirect=True)
def test_trusted_certificate_may_be_the_servers_own(sqlite_app: App, desk: Desk, tls: LoopbackTLS,
                                                    client_pki: ClientPki, tmp_path: Path) -> None:
    """`--trusted-cert` given the server's own certificate pins it; another server certificate is refused."""
    app = sqlite_app
    add_account(app, desk, tls, client_pki)
    other = make_loopback_tls(tmp_path / "other")
    with app.transaction() as svc:
        svc.tickets.configure(ADMIN, "hd", trusted_cert=other.cert_file.read_bytes())
        account, _ = svc.tickets.helpdesks(ADMIN)[0]
        assert account.connection["pinned_certificate"] == other.cert_file.read_text()
    import_certificate(app, certificate("pinned.example.com", 9))
    refused = sync(app)
    assert refused.created == [] and "pinned" in refused.failed[0]["error"] and desk.count() == 0
    with app.transaction() as svc:
        svc.tickets.configure(ADMIN, "hd", trusted_cert=tls.cert_file.read_bytes())
        assert svc.tickets.check(ADMIN, "hd")
    assert len(sync(app).created) == 1 and desk.count() == 1

"""The rule table of issue 13 against an in-process help desk (tests/tickets/double.py), on SQLite and
PostgreSQL: create, leave alone, reopen, reopen-impossible -> a new ticket naming the old one, add note,
resolve on renewal and on a clean scan, one ticket per domain@IP, no duplicates after a crash or with two
syncs at once, an outage that leaves the work pending, and a refused state change shown as a failure."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from certvault.container import App
from certvault.tickets.service import TicketService
from certvault.tickets.sync import TicketSync
from tests.tickets import double
from tests.tickets.seed import ADMIN, certificate, import_certificate, scan_result, serial_of, store_scan

URL = "https://certvault.example.test:8443"


@pytest.fixture
def desk(app: App) -> double.Store:
    app.process.plugins.register("ticketing", "double", double.DoubleDesk)
    name = uuid.uuid4().hex
    store = double.STORES.setdefault(name, double.Store())
    with app.transaction() as svc:
        svc.integrations.add(ADMIN, "ticketing", "double", "desk", {"store": name}, {"token": "t0ken"})
    return store


def sync(app: App, **options: Any) -> Any:
    return TicketSync(app.transaction, public_url=URL, **options).run()


def writes(store: double.Store) -> int:
    return sum(n for call, n in store.calls.items() if call in ("create", "add_note", "reopen", "resolve"))


def keys(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((i["kind"], i["key"]) for i in items)


def test_expiry_create_leave_alone_reopen_and_resolve_on_renewal(app: App, desk: double.Store) -> None:
    pem = certificate("shop.example.com", 12)
    import_certificate(app, pem)
    serial = serial_of(pem)
    first = sync(app)
    assert keys(first.created) == [("expiry", serial)] and first.failed == []
    (ticket,) = desk.tickets.values()
    expires = __import__("cryptography.x509", fromlist=["x"]).load_pem_x509_certificate(pem).not_valid_after_utc
    assert ticket.subject == "SSL Certificate shop.example.com expiry"
    assert ticket.body.splitlines() == [
        "The SSL Certificate shop.example.com expiring soon, please take care", "Common Name: shop.example.com",
        f"Expiry Date: {expires:%b} {expires.day}, {expires.year}", f"Scanned by: certvault running at {URL}"]
    assert first.created[0]["number"] == ticket.number and first.created[0]["helpdesk"] == "desk"

    before = writes(desk)
    for state in ("open", "in_progress", "on_hold"):
        ticket.state = state
        again = sync(app)
        assert keys(again.unchanged) == [("expiry", serial)] and not again.created and not again.reopened
    assert writes(desk) == before  # leave alone: nothing written to the help desk

    ticket.state = "closed"
    reopened = sync(app)
    assert keys(reopened.reopened) == [("expiry", serial)] and ticket.state == "in_progress"
    assert len(desk.tickets) == 1

    renewed = certificate("shop.example.com", 200)
    import_certificate(app, renewed, "renewed.pem")
    done = sync(app)
    assert keys(done.resolved) == [("expiry", serial)] and ticket.state == "resolved"
    assert "has been renewed and the new version stored" in ticket.notes[-1]
    assert serial_of(renewed) in ticket.notes[-1]
    assert sync(app).resolved == [] and ticket.state == "resolved"  # not resolved twice, not reopened


def test_reopen_impossible_opens_a_new_ticket_naming_the_old(app: App, desk: double.Store) -> None:
    desk.final = ("closed", "canceled")  # like ServiceNow: only Resolved reopens
    pem = certificate("final.example.com", 5)
    import_certificate(app, pem)
    sync(app)
    (old,) = desk.tickets.values()
    old.state = "canceled"
    report = sync(app)
    assert len(desk.tickets) == 2
    new = desk.tickets[report.reopened[0]["number"]]
    assert new.number != old.number and report.reopened[0]["replaces"] == old.number
    assert f"Previous ticket: {old.number}" in new.body and new.correlation == old.correlation
    assert sync(app).unchanged[0]["number"] == new.number  # the new one is tracked from now on
    with app.transaction() as svc:
        (record, _), = svc.tickets.records(ADMIN)
        assert record.number == new.number and record.previous_numbers == [old.number]


def test_vulnerability_two_domains_notes_reopen_and_clean_resolve(app: App, desk: double.Store) -> None:
    store_scan(app, scan_result("example.com", "192.168.0.23", weak=("TLS_RSA_WITH_RC4_128_SHA",)),
               scan_result("test.example.com", "192.168.205.35", weak=("TLS_RSA_WITH_3DES_EDE_CBC_SHA",),
                           cn="example.com"),
               scan_result("clean.example.com", "192.168.0.50"))
    first = sync(app)
    assert keys(first.created) == [("vulnerability", "example.com@192.168.0.23"),
                                   ("vulnerability", "test.example.com@192.168.205.35")]
    by_subject = {t.subject: t for t in desk.tickets.values()}
    san = by_subject["Vulnerabilities for test.example.com"]
    lines = san.body.splitlines()
    assert lines[:5] == ["test.example.com", "example.com", "192.168.205.35",
                         "Weak ciphers in use, which should be removed", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"]
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" not in san.body  # only the weak ones
    assert lines[-1] == f"Scanned by: certvault running at {URL}" and lines[-2].startswith("Scan Time: ")

    assert writes(desk) == 2 and sync(app).noted == []  # nothing new: nothing written
    assert writes(desk) == 2

    store_scan(app, scan_result("example.com", "192.168.0.23", weak=("TLS_RSA_WITH_RC4_128_SHA",),
                                heartbleed="vulnerable"))
    noted = sync(app)
    assert keys(noted.noted) == [("vulnerability", "example.com@192.168.0.23")]
    main = by_subject["Vulnerabilities for example.com"]
    assert "Heartbleed" in main.notes[-1] and "Signature Algorithm: sha256WithRSAEncryption" in main.notes[-1]

    main.state = "resolved"
    store_scan(app, scan_result("example.com", "192.168.0.23", weak=("TLS_RSA_WITH_RC4_128_SHA",)))
    assert keys(sync(app).reopened) == [("vulnerability", "example.com@192.168.0.23")]
    assert main.state == "in_progress" and "TLS_RSA_WITH_RC4_128_SHA" in main.notes[-1]

    store_scan(app, scan_result("example.com", "192.168.0.23"))
    resolved = sync(app)
    assert keys(resolved.resolved) == [("vulnerability", "example.com@192.168.0.23")]
    assert main.state == "resolved" and "found no weaknesses" in main.notes[-1]
    assert len(desk.tickets) == 2


def test_options_turn_each_rule_off(app: App, desk: double.Store) -> None:
    import_certificate(app, certificate("off.example.com", 3))
    store_scan(app, scan_result("weak.example.com", "10.0.0.1", weak=("TLS_RSA_WITH_RC4_128_SHA",)))
    with app.transaction() as svc:
        svc.tickets.configure(ADMIN, "desk", expiry_tickets=False)
    assert [i["kind"] for i in sync(app).created] == ["vulnerability"]
    with app.transaction() as svc:
        svc.tickets.configure(ADMIN, "desk", expiry_tickets=True, vulnerability_tickets=False)
    assert [i["kind"] for i in sync(app).created] == ["expiry"]


def test_outage_keeps_the_work_pending_then_recovers(app: App, desk: double.Store) -> None:
    import_certificate(app, certificate("down.example.com", 9))
    desk.down = 10**6
    report = sync(app)
    assert report.retry and report.created == [] and report.failed
    assert desk.tickets == {}
    with app.transaction() as svc:
        (record, _), = svc.tickets.records(ADMIN)
        assert (record.sync_state, record.number, record.lease_owner) == ("pending", None, None)
        assert "connection refused" in record.error
    desk.down = 0
    recovered = sync(app)
    assert len(recovered.created) == 1 and not recovered.retry and len(desk.tickets) == 1
    with app.transaction() as svc:
        (record, _), = svc.tickets.records(ADMIN)
        assert (record.sync_state, record.error) == ("ok", None)
    desk.down = 1  # down while reading the statuses: the tracked ticket is named, nothing written
    unread = sync(app)
    assert unread.retry and [(i["kind"], i["key"], i["number"], i["pending"]) for i in unread.failed] == [
        ("expiry", record.key, record.number, True)]


def test_a_crash_between_create_and_store_adopts_the_ticket(app: App, desk: double.Store,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import_certificate(app, certificate("crash.example.com", 9))

    def crash(*args: Any, **kwargs: Any) -> None:
        raise SystemExit("killed")  # the remote ticket exists, the local record never hears of it

    with monkeypatch.context() as patch:
        patch.setattr(TicketService, "store", crash)
        with pytest.raises(SystemExit):
            sync(app, lease=timedelta(0))
    assert len(desk.tickets) == 1
    report = sync(app)
    assert len(report.created) == 1 and len(desk.tickets) == 1 and desk.calls["create"] == 1
    assert report.created[0]["number"] == next(iter(desk.tickets))


def test_two_syncs_at_once_make_one_ticket(app: App, desk: double.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import_certificate(app, certificate("race.example.com", 9))
    slow = double.DoubleDesk.create

    def create(self: double.DoubleDesk, draft: Any) -> Any:
        time.sleep(1.0)  # the other sync plans and claims meanwhile
        return slow(self, draft)

    monkeypatch.setattr(double.DoubleDesk, "create", create)
    reports: list[Any] = []
    threads = [threading.Thread(target=lambda: reports.append(sync(app))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(desk.tickets) == 1 and desk.calls["create"] == 1
    assert sum(len(r.created) for r in reports) == 1


def test_a_refused_state_change_is_a_failure_with_an_event(app: App, desk: double.Store) -> None:
    from certvault.events.models import DomainEvent

    import_certificate(app, certificate("refused.example.com", 9))
    sync(app)
    (ticket,) = desk.tickets.values()
    ticket.state = "closed"
    desk.refuse = 1
    report = sync(app)
    assert report.reopened == [] and "refused" in report.failed[0]["error"]
    with app.transaction() as svc:
        (record, _), = svc.tickets.records(ADMIN)
        assert record.sync_state == "failed"
        events = svc.session.scalars(select(DomainEvent).where(DomainEvent.type == "ticket.sync_failed")).all()
        assert len(events) == 1 and events[0].payload["key"] == record.key
    assert keys(sync(app).reopened) == [("expiry", record.key)]  # the next sync tries again


def test_scan_and_renewal_events_sync_through_the_job_engine(app: App, desk: double.Store) -> None:
    """A stored scan result is an event; the tickets consumer queues `tickets.sync`; the worker runs it."""
    store_scan(app, scan_result("jobs.example.com", "10.1.2.3", weak=("TLS_RSA_WITH_RC4_128_SHA",)))
    worker = app.worker(concurrency=1)
    worker.run_until_idle(60)
    deadline = time.monotonic() + 60
    while not desk.tickets and time.monotonic() < deadline:  # the sync job waits a second to gather events
        time.sleep(0.3)
        worker.run_until_idle(60)
    (ticket,) = desk.tickets.values()
    assert ticket.subject == "Vulnerabilities for jobs.example.com"
    store_scan(app, scan_result("jobs.example.com", "10.1.2.3"))
    while ticket.state != "resolved" and time.monotonic() < deadline + 60:
        time.sleep(0.3)
        worker.run_until_idle(60)
    assert ticket.state == "resolved"

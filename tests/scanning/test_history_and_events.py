"""Results are kept per endpoint and every change between consecutive results becomes an event:
a weakness appears, is fixed, the certificate changes, the grade changes, expiry enters the window,
the endpoint goes down and comes back. Real `openssl s_server` endpoints, SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from certvault.audit.service import AuditQuery
from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.events.models import DomainEvent, EventDelivery
from certvault.jobs.models import Schedule
from certvault.scanning.models import ScanResult
from certvault.scanning.queries import EndpointQuery
from tests.scanning.conftest import scan_and_wait
from tests.scanning.tls import ScanCA, TlsServers


def _endpoint(app: App, actor: Actor, host: str, port: int):  # noqa: ANN202
    with app.transaction() as svc:
        [endpoint] = svc.scanning.find_endpoints(actor, host, port)
        events, _ = svc.scanning.list_events(actor, endpoint_id=endpoint.id, limit=200)
        history = svc.scanning.history(actor, endpoint.id)
    return endpoint, events, history


def _inventory_reports(app: App, actor: Actor) -> int:
    """How often the scans told the inventory where they saw a chain (audited as certificate.seen)."""
    with app.transaction() as svc:
        return svc.audit.search(actor, AuditQuery(action="certificate.seen", limit=1))[1]


def _new(events: list, seen: set) -> list[tuple[str, str | None]]:
    fresh = sorted((e.type, e.subject) for e in events if e.id not in seen)
    seen.update(e.id for e in events)
    return fresh


def test_weakness_appears_is_fixed_and_certificate_changes(
        app: App, admin: Actor, test_ca: ScanCA, tls_servers: TlsServers) -> None:
    first = test_ca.issue(["shop.test"])
    server = tls_servers.serve(first, ip="127.0.0.2", profile="modern")
    spec = {"hosts": [f"127.0.0.2:{server.port}"], "sni": "shop.test", "ca_pem": test_ca.ca_pem}
    seen: set = set()

    scan_and_wait(app, admin, **spec)
    endpoint, events, history = _endpoint(app, admin, "127.0.0.2", server.port)
    assert endpoint.status == "ok" and endpoint.findings == []
    assert endpoint.grade is not None and endpoint.grade.startswith("A")
    assert endpoint.protocols == ["TLSv1.2", "TLSv1.3"]
    assert endpoint.cert_fingerprint == first.fingerprint and endpoint.sni == "shop.test"
    assert _new(events, seen) == []  # a clean first scan has nothing to report
    assert _inventory_reports(app, admin) == 1
    first_grade = endpoint.grade

    server.restart(first, "legacy")  # TLS 1.0/1.1 and anonymous suites appear
    scan_and_wait(app, admin, **spec)
    endpoint, events, history = _endpoint(app, admin, "127.0.0.2", server.port)
    weaknesses = {"protocol:TLSv1.0", "protocol:TLSv1.1", "anonymous_ciphers", "weak_ciphers"}
    assert weaknesses <= set(endpoint.findings)
    fresh = _new(events, seen)
    assert _inventory_reports(app, admin) == 1  # same chain, seen recently: the inventory is not bothered
    assert {("weakness_found", w) for w in weaknesses} <= set(fresh)
    assert ("grade_changed", None) in fresh and not endpoint.grade.startswith("A")
    grade_event = next(e for e in events if e.type == "grade_changed")
    assert (grade_event.before, grade_event.after) == (first_grade, endpoint.grade)
    found_weak = next(e for e in events if e.type == "weakness_found" and e.subject == "weak_ciphers")
    assert any("anonymous" in " ".join(c["reasons"]) for c in found_weak.details["ciphers"])
    with app.transaction() as svc:
        weak = svc.scanning.weak_ciphers(admin, endpoint.id)
    assert any(w["name"] == "TLS_DH_anon_WITH_AES_128_CBC_SHA" and w["protocol"] == "TLSv1.0" for w in weak)

    second = test_ca.issue(["shop.test"], days=10)  # renewed, but expiring inside the 30-day window
    server.restart(second, "modern")
    scan_and_wait(app, admin, **spec)
    endpoint, events, history = _endpoint(app, admin, "127.0.0.2", server.port)
    fresh = _new(events, seen)
    assert _inventory_reports(app, admin) == 2  # a new chain is reported at once
    assert {("weakness_fixed", w) for w in weaknesses} <= set(fresh)
    assert ("certificate_changed", None) in fresh and ("expiry_warning", None) in fresh
    changed = next(e for e in events if e.type == "certificate_changed")
    assert changed.before["fingerprint_sha256"] == first.fingerprint
    assert changed.after["fingerprint_sha256"] == second.fingerprint
    warning = next(e for e in events if e.type == "expiry_warning")
    assert warning.after in (9, 10) and warning.details["fingerprint_sha256"] == second.fingerprint
    assert endpoint.findings == [] and endpoint.weak_cipher_count == 0
    assert [h.cert_fingerprint for h in history] == [second.fingerprint, first.fingerprint, first.fingerprint]
    assert history[1].findings and not history[0].findings

    scan_and_wait(app, admin, **spec)  # nothing changed: no new event, one more history row
    endpoint, events, history = _endpoint(app, admin, "127.0.0.2", server.port)
    assert _new(events, seen) == [] and len(history) == 4


def test_unreachable_endpoint_gives_a_result_with_errors_and_events(
        app: App, admin: Actor, test_ca: ScanCA, tls_servers: TlsServers) -> None:
    port = tls_servers.closed_port("127.0.0.3")
    spec = {"hosts": [f"127.0.0.3:{port}"], "ca_pem": test_ca.ca_pem}
    run_id = scan_and_wait(app, admin, **spec)
    with app.transaction() as svc:
        run = svc.scanning.get_run(admin, run_id)
        assert (run.status, run.total_targets, run.done_targets, run.failed_targets) == ("done", 1, 1, 1)
    endpoint, events, history = _endpoint(app, admin, "127.0.0.3", port)
    assert endpoint.status == "unreachable" and "refused" in endpoint.last_error
    assert history[0].reachable is False and history[0].result["errors"]
    assert history[0].result["grade"] == "-" and endpoint.grade is None
    assert [e.type for e in events] == ["unreachable"]

    scan_and_wait(app, admin, **spec)  # still down: no second event
    endpoint, events, _ = _endpoint(app, admin, "127.0.0.3", port)
    assert [e.type for e in events] == ["unreachable"]

    tls_servers.serve(test_ca.issue(["127.0.0.3"], ["127.0.0.3"]), ip="127.0.0.3", port=port)
    scan_and_wait(app, admin, **spec)
    endpoint, events, _ = _endpoint(app, admin, "127.0.0.3", port)
    assert endpoint.status == "ok" and endpoint.last_error is None
    assert "reachable" in [e.type for e in events]
    with app.transaction() as svc:
        rows, total = svc.scanning.list_endpoints(admin, EndpointQuery(status="ok"))
    assert total == 1 and rows[0].id == endpoint.id


def test_changes_go_to_the_domain_event_outbox_and_are_read_once(app: App, admin: Actor,
                                                                 tls_servers: TlsServers) -> None:
    port = tls_servers.closed_port("127.0.0.4")
    scan_and_wait(app, admin, hosts=[f"127.0.0.4:{port}"])  # the worker also runs the consumers' jobs
    scan_and_wait(app, admin, hosts=[f"127.0.0.4:{port}"])  # still down: no second event
    with app.transaction() as svc:
        [event] = svc.session.scalars(select(DomainEvent).where(DomainEvent.type.like("scan.%"))).all()
        assert (event.type, event.subject, event.payload["ip"]) == ("scan.endpoint_unreachable",
                                                                     f"127.0.0.4:{port}", "127.0.0.4")
        assert svc.session.scalars(select(EventDelivery)).all() == []  # every consumer read it
        [history], _ = svc.scanning.list_events(admin, type="unreachable")  # the endpoint's history keeps it
    assert history.endpoint_id == uuid.UUID(event.payload["endpoint"])


def test_old_history_is_purged_but_each_endpoint_keeps_its_latest(
        app: App, admin: Actor, tls_servers: TlsServers) -> None:
    port = tls_servers.closed_port("127.0.0.5")
    for _ in range(3):
        scan_and_wait(app, admin, hosts=[f"127.0.0.5:{port}"])
    endpoint, events, history = _endpoint(app, admin, "127.0.0.5", port)
    assert len(history) == 3
    with app.transaction() as svc:  # make every result two years old
        svc.session.execute(update(ScanResult).values(scanned_at=datetime.now(UTC) - timedelta(days=730)))
    app.install_schedules()
    with app.transaction() as svc:  # the daily purge job is due at once after installation
        svc.session.execute(update(Schedule).where(Schedule.name == "scanning.purge_history")
                            .values(next_run_at=datetime.now(UTC) - timedelta(seconds=1)))
    app.worker().run_until_idle()
    endpoint, events, history = _endpoint(app, admin, "127.0.0.5", port)
    assert [h.id for h in history] == [endpoint.latest_result_id]
    assert [e.type for e in events] == ["unreachable"]  # events outlive the rows they pointed at

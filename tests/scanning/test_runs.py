"""Runs as jobs: an expand job splits the targets into batch jobs, each batch commits its results with
the run's progress; inventory-derived targets give one result per domain@IP. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from certvault.auth.rbac import Actor, Role
from certvault.container import App
from certvault.errors import Forbidden, InvalidInput
from certvault.jobs import queue
from certvault.jobs.models import Job
from certvault.scanning.models import ScanRun
from certvault.scanning.queries import EndpointQuery
from certvault.scanning.schemas import TargetSpec
from tests.scanning.conftest import scan_and_wait, start_scan
from tests.scanning.tls import ScanCA, TlsServers


def run_next_job(app: App) -> str:
    """Claim and run exactly one due job, as a worker would; returns its name."""
    worker = app.worker()
    with app.sessions.begin() as session:
        [job] = queue.claim(session, worker.id, 1, timedelta(minutes=5))
    worker._execute(job)  # the same path the worker's loop takes
    return job.name


def _progress(app: App, actor: Actor, run_id) -> tuple:  # noqa: ANN001
    with app.transaction() as svc:
        run = svc.scanning.get_run(actor, run_id)
        view = svc.scanning.run_view(run)
        return run.status, run.done_targets, run.total_targets, run.batches_done, run.batches_total, view["progress"]


def test_large_scan_runs_as_batch_jobs_with_progress(
        app: App, admin: Actor, test_ca: ScanCA, tls_servers: TlsServers) -> None:
    one = tls_servers.serve(test_ca.issue(["127.0.0.2"], ["127.0.0.2"]), ip="127.0.0.2")
    two = tls_servers.serve(test_ca.issue(["127.0.0.3"], ["127.0.0.3"]), ip="127.0.0.3")
    closed = [f"127.0.0.{n}:{tls_servers.closed_port(f'127.0.0.{n}')}" for n in (4, 5, 6)]
    run_id = start_scan(app, admin, hosts=[f"127.0.0.2:{one.port}", f"127.0.0.3:{two.port}", *closed],
                        batch_size=2, ca_pem=test_ca.ca_pem)
    assert _progress(app, admin, run_id) == ("queued", 0, 0, 0, 0, 0.0)

    assert run_next_job(app) == "scanning.expand_run"
    assert _progress(app, admin, run_id) == ("running", 0, 5, 0, 3, 0.0)
    with app.transaction() as svc:
        batches = svc.session.scalars(select(Job).where(Job.name == "scanning.scan_batch")).all()
        assert sorted(len(b.payload["targets"]) for b in batches) == [1, 2, 2]

    seen = []
    for _ in range(3):
        assert run_next_job(app) == "scanning.scan_batch"
        seen.append(_progress(app, admin, run_id))
    assert [s[1] for s in seen] == sorted(s[1] for s in seen) and seen[-1][1] == 5
    assert [s[3] for s in seen] == [1, 2, 3]
    assert seen[-1][0] == "done" and seen[-1][5] == 1.0 and all(s[0] == "running" for s in seen[:-1])
    with app.transaction() as svc:
        run = svc.scanning.get_run(admin, run_id)
        assert run.failed_targets == 3 and run.finished_at is not None
        results = svc.scanning.run_results(admin, run_id)
        assert len(results) == 5
        assert sum(1 for r, _e in results if r.reachable) == 2


def test_cancelled_run_skips_its_remaining_batches(app: App, admin: Actor, tls_servers: TlsServers) -> None:
    closed = [f"127.0.0.7:{tls_servers.closed_port('127.0.0.7')}" for _ in range(3)]
    run_id = start_scan(app, admin, hosts=closed, batch_size=1)
    assert run_next_job(app) == "scanning.expand_run"
    with app.transaction() as svc:
        svc.scanning.cancel_run(admin, run_id)
    app.worker().run_until_idle()
    status, done, total, *_ = _progress(app, admin, run_id)
    assert (status, done, total) == ("cancelled", 0, 3)


def test_inventory_targets_give_one_result_per_domain_and_address(
        app: App, admin: Actor, test_ca: ScanCA, tls_servers: TlsServers) -> None:
    # One certificate, seen as example.test on one address and test.example.test on another.
    shared = test_ca.issue(["example.test", "test.example.test"])
    first = tls_servers.serve(shared, ip="127.0.0.2")
    second = tls_servers.serve(shared, ip="127.0.0.3")
    # A managed certificate whose name resolves (localhost -> 127.0.0.1) is scanned on the spec's ports.
    local = test_ca.issue(["localhost"])
    third = tls_servers.serve(local, ip="127.0.0.1")
    with app.transaction() as svc:
        pem = shared.cert.read_bytes()
        svc.certificates.record_seen(admin, chain_pem=pem, host="example.test", ip="127.0.0.2", port=first.port,
                                     sni="example.test")
        svc.certificates.record_seen(admin, chain_pem=pem, host="test.example.test", ip="127.0.0.3",
                                     port=second.port, sni="test.example.test")
        svc.certificates.store_issued(admin, chain_pem=local.cert.read_bytes(), key_pem=None, source="import",
                                      managed=True)

    run_id = scan_and_wait(app, admin, inventory=True, ports=[third.port], ca_pem=test_ca.ca_pem)
    with app.transaction() as svc:
        assert svc.scanning.get_run(admin, run_id).done_targets == 3
        rows, total = svc.scanning.list_endpoints(admin, EndpointQuery())
        sightings = svc.certificates.endpoints(admin)
    found = sorted((e.host, e.ip, e.port, e.sni) for e in rows)
    assert found == sorted([("example.test", "127.0.0.2", first.port, "example.test"),
                            ("test.example.test", "127.0.0.3", second.port, "test.example.test"),
                            ("localhost", "127.0.0.1", third.port, "localhost")])
    assert all(e.status == "ok" and e.grade and e.grade.startswith("A") for e in rows)
    assert {e.cert_fingerprint for e in rows} == {shared.fingerprint, local.fingerprint}
    # The scan recorded where it saw each chain in the inventory, including the new place for localhost.
    assert ("127.0.0.1", third.port) in {(s.ip, s.port) for s in sightings}


def test_bad_targets_are_refused_and_nothing_is_stored(app: App, admin: Actor) -> None:
    for spec, message in (
        ({"hosts": ["bad host!"]}, "bad host!"),
        ({"hosts": ["10.0.0.0/8"]}, "more than 100000"),
        ({"hosts": ["example.test:99999"]}, "port '99999'"),
        ({"hosts": ["[2001:db8::1"]}, "IPv6"),
        ({"hosts": []}, "nothing to scan"),
        ({"hosts": ["a.test"], "starttls": "gopher"}, "starttls"),
        ({"hosts": ["a.test"], "ca_pem": "not a pem"}, "ca_pem"),
    ):
        with pytest.raises(InvalidInput, match=message):
            with app.transaction() as svc:
                svc.scanning.start_run(admin, TargetSpec(**spec))
    with pytest.raises(Forbidden):
        with app.transaction() as svc:
            svc.scanning.start_run(Actor(name="auditor", role=Role.AUDITOR), TargetSpec(hosts=["a.test"]))
    with app.transaction() as svc:
        assert svc.session.scalar(select(func.count()).select_from(ScanRun)) == 0
        assert svc.session.scalar(select(func.count()).select_from(Job).where(Job.name.like("scanning.%"))) == 0


def test_a_run_whose_jobs_gave_up_is_marked_failed(app: App, admin: Actor, tls_servers: TlsServers) -> None:
    run_id = start_scan(app, admin, hosts=[f"127.0.0.9:{tls_servers.closed_port('127.0.0.9')}"])
    with app.transaction() as svc:
        assert svc.scanning.reap_stalled_runs(admin) == []  # its expand job is still queued
        # The expand job failed on every attempt (as a database outage would make it), an hour ago.
        svc.session.execute(update(Job).where(Job.name == "scanning.expand_run").values(status="failed"))
        svc.session.execute(update(ScanRun).where(ScanRun.id == run_id)
                            .values(created_at=datetime.now(UTC) - timedelta(hours=1)))
    with app.transaction() as svc:
        [reaped] = svc.scanning.reap_stalled_runs(admin)
        assert reaped.id == run_id
    with app.transaction() as svc:
        run = svc.scanning.get_run(admin, run_id)
        assert run.status == "failed" and "jobs ended" in run.error

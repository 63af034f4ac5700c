"""Schedules: daily or weekly at a time; the dispatcher starts exactly one run per due time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.errors import Conflict, InvalidInput, NotFound
from certvault.scanning.models import ScanRun, ScanSchedule
from certvault.scanning.schedules import next_occurrence
from certvault.scanning.schemas import ScheduleIn, ScheduleUpdate, TargetSpec
from tests.scanning.tls import TlsServers

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # the date of the brief, a Monday


@pytest.mark.parametrize(("frequency", "weekday", "at", "after", "expected"), [
    ("daily", None, "02:30", MONDAY, datetime(2026, 11, 24, 2, 30, tzinfo=UTC)),
    ("daily", None, "10:00", MONDAY, datetime(2026, 11, 24, 10, 0, tzinfo=UTC)),  # strictly after
    ("daily", None, "23:59", MONDAY, datetime(2026, 11, 23, 23, 59, tzinfo=UTC)),
    ("weekly", 0, "11:00", MONDAY, datetime(2026, 11, 23, 11, 0, tzinfo=UTC)),
    ("weekly", 0, "09:00", MONDAY, datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),
    ("weekly", 6, "00:00", MONDAY, datetime(2026, 11, 29, 0, 0, tzinfo=UTC)),
])
def test_next_occurrence(frequency: str, weekday: int | None, at: str, after: datetime, expected: datetime) -> None:
    assert next_occurrence(frequency, weekday, at, after) == expected


def _schedule(name: str, port: int, **extra: object) -> ScheduleIn:
    return ScheduleIn(name=name, frequency=extra.pop("frequency", "daily"), time=extra.pop("time", "03:00"),  # type: ignore[arg-type]
                      weekday=extra.pop("weekday", None), targets=TargetSpec(hosts=[f"127.0.0.8:{port}"]))


def _runs(app: App) -> int:
    with app.transaction() as svc:
        return svc.session.scalar(select(func.count()).select_from(ScanRun)) or 0


def test_a_due_schedule_starts_one_run_per_tick(app: App, admin: Actor, tls_servers: TlsServers) -> None:
    port = tls_servers.closed_port("127.0.0.8")
    with app.transaction() as svc:
        schedule = svc.scanning.create_schedule(admin, _schedule("nightly", port))
    due = schedule.next_run_at
    assert due > datetime.now(UTC) and (due.hour, due.minute) == (3, 0)

    with app.transaction() as svc:
        assert svc.scanning.dispatch_due_schedules(admin, now=due - timedelta(seconds=1)) == []
    with app.transaction() as svc:
        [run] = svc.scanning.dispatch_due_schedules(admin, now=due + timedelta(seconds=5))
        assert (run.source, run.schedule_id, run.scheduled_for) == ("schedule", schedule.id, due)
    with app.transaction() as svc:  # the same tick again: nothing new
        assert svc.scanning.dispatch_due_schedules(admin, now=due + timedelta(seconds=5)) == []
        stored = svc.scanning.get_schedule(admin, "nightly")
        assert stored.next_run_at == due + timedelta(days=1) and stored.last_run_id == run.id
    # Missed ticks (the server was down for three days) start one run, not three.
    with app.transaction() as svc:
        [late] = svc.scanning.dispatch_due_schedules(admin, now=due + timedelta(days=3, hours=1))
        assert late.scheduled_for == due + timedelta(days=1)
        assert svc.scanning.get_schedule(admin, "nightly").next_run_at == due + timedelta(days=4)
    assert _runs(app) == 2


def test_the_periodic_dispatcher_job_fires_once_and_the_run_scans(
        app: App, admin: Actor, tls_servers: TlsServers) -> None:
    port = tls_servers.closed_port("127.0.0.8")
    with app.transaction() as svc:
        schedule = svc.scanning.create_schedule(admin, _schedule("weekly", port, frequency="weekly",
                                                                 weekday="fri", time="04:15"))
        assert schedule.weekday == 4
        # Make it due now, as if Friday 04:15 had just passed.
        svc.session.execute(update(ScanSchedule).where(ScanSchedule.id == schedule.id)
                            .values(next_run_at=datetime.now(UTC) - timedelta(minutes=1)))
    app.install_schedules()
    worker = app.worker()
    worker.run_until_idle(timeout=60)
    worker.run_until_idle(timeout=60)
    with app.transaction() as svc:
        runs = svc.session.scalars(select(ScanRun)).all()
        assert len(runs) == 1 and runs[0].status == "done" and runs[0].done_targets == 1
        assert svc.scanning.get_schedule(admin, schedule.id).next_run_at.weekday() == 4
        [endpoint] = svc.scanning.find_endpoints(admin, "127.0.0.8", port)
        assert endpoint.status == "unreachable"


def test_schedule_changes_are_validated_and_audited(app: App, admin: Actor) -> None:
    with app.transaction() as svc:
        created = svc.scanning.create_schedule(admin, _schedule("daily-web", 443))
    for bad, message in ((_schedule("x", 443, time="25:00"), "HH:MM"),
                         (_schedule("y", 443, frequency="weekly"), "needs a weekday"),
                         (_schedule("z", 443, frequency="weekly", weekday="someday"), "weekday"),
                         (_schedule("w", 443, weekday="monday"), "only applies to weekly")):
        with pytest.raises(InvalidInput, match=message):
            with app.transaction() as svc:
                svc.scanning.create_schedule(admin, bad)
    with pytest.raises(Conflict, match="already exists"):
        with app.transaction() as svc:
            svc.scanning.create_schedule(admin, _schedule("daily-web", 443))
    with app.transaction() as svc:
        updated = svc.scanning.update_schedule(admin, created.id, ScheduleUpdate(frequency="weekly", weekday="sunday",
                                                                                  time="05:00", enabled=False))
        assert (updated.frequency, updated.weekday, updated.time_of_day, updated.enabled) == ("weekly", 6, "05:00",
                                                                                              False)
        assert svc.scanning.dispatch_due_schedules(admin, now=updated.next_run_at + timedelta(hours=1)) == []
        svc.scanning.delete_schedule(admin, "daily-web")
    with pytest.raises(NotFound):
        with app.transaction() as svc:
            svc.scanning.get_schedule(admin, created.id)
    with app.transaction() as svc:
        rows, _ = svc.audit.search(admin, _audit_query("scan.schedule."))
    assert [r.action for r in sorted(rows, key=lambda r: r.seq)] == [
        "scan.schedule.create", "scan.schedule.update", "scan.schedule.delete"]
    assert rows[0].details["name"] == "daily-web"


def _audit_query(action: str):  # noqa: ANN202
    from certvault.audit.service import AuditQuery

    return AuditQuery(action=action, limit=50)

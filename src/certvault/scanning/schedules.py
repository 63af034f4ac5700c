"""Scan schedules: daily or weekly at a time of day (UTC), and the dispatcher that starts due runs.

Exactly one run per due time: the run row carries (schedule_id, scheduled_for) under a unique
constraint, so two dispatchers racing on the same tick cannot both start it.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from certvault.context import ServiceContext
from certvault.db import dialect
from certvault.db.lookup import by_id_or_name
from certvault.errors import Conflict, InvalidInput, NotFound
from certvault.scanning.models import ScanRun, ScanSchedule
from certvault.scanning.runs import RunBook
from certvault.scanning.schemas import ScheduleIn, ScheduleUpdate, TargetSpec

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_time(value: str) -> str:
    match = _TIME.match(value.strip())
    if not match:
        raise InvalidInput(f"time {value!r} is not HH:MM (24-hour, UTC)")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def parse_weekday(value: str | int | None, frequency: str) -> int | None:
    if frequency == "daily":
        if value not in (None, ""):
            raise InvalidInput("weekday only applies to weekly schedules")
        return None
    if value is None or value == "":
        raise InvalidInput("a weekly schedule needs a weekday (monday..sunday)")
    if isinstance(value, int) or (str(value).isascii() and str(value).isdigit()):
        number = int(value)
        if not 0 <= number <= 6:
            raise InvalidInput(f"weekday {value!r} is not 0 (monday) to 6 (sunday)")
        return number
    name = str(value).strip().lower()
    for index, day in enumerate(WEEKDAYS):
        if len(name) >= 3 and day.startswith(name):
            return index
    raise InvalidInput(f"weekday {value!r} is not one of {', '.join(WEEKDAYS)}")


def next_occurrence(frequency: str, weekday: int | None, time_of_day: str, after: datetime) -> datetime:
    """The first due time strictly after `after`."""
    hour, minute = (int(p) for p in time_of_day.split(":"))
    after = after.astimezone(UTC)
    candidate = datetime.combine(after.date(), time(hour, minute), tzinfo=UTC)
    if frequency == "weekly":
        assert weekday is not None
        candidate += timedelta(days=(weekday - after.weekday()) % 7)
        step = timedelta(days=7)
    else:
        step = timedelta(days=1)
    while candidate <= after:
        candidate += step
    return candidate


def describe_when(schedule: ScanSchedule) -> str:
    if schedule.frequency == "weekly" and schedule.weekday is not None:
        return f"weekly on {WEEKDAYS[schedule.weekday].capitalize()} at {schedule.time_of_day} UTC"
    return f"daily at {schedule.time_of_day} UTC"


class ScheduleBook:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._session = ctx.session

    def create(self, data: ScheduleIn, created_by: str) -> ScanSchedule:
        name = data.name.strip()
        if not name:
            raise InvalidInput("name: a schedule needs a name")
        if self._session.scalar(select(ScanSchedule).where(ScanSchedule.name == name)) is not None:
            raise Conflict(f"a scan schedule named {name!r} already exists")
        _check_targets(data.targets)
        time_of_day = parse_time(data.time)
        weekday = parse_weekday(data.weekday, data.frequency)
        schedule = ScanSchedule(
            id=uuid.uuid4(), name=name, frequency=data.frequency, weekday=weekday, time_of_day=time_of_day,
            spec=data.targets.model_dump(mode="json"), enabled=data.enabled, created_by=created_by,
            next_run_at=next_occurrence(data.frequency, weekday, time_of_day, self._ctx.now()),
        )
        self._session.add(schedule)
        self._session.flush()
        return schedule

    def get(self, ref: uuid.UUID | str) -> ScanSchedule:
        schedule = by_id_or_name(self._session, ScanSchedule, ref, ScanSchedule.name)
        if schedule is None:
            raise NotFound(f"scan schedule {ref} not found")
        return schedule

    def all(self) -> list[ScanSchedule]:
        return list(self._session.scalars(select(ScanSchedule).order_by(ScanSchedule.name)))

    def update(self, ref: uuid.UUID | str, data: ScheduleUpdate) -> tuple[ScanSchedule, list[str]]:
        schedule = self.get(ref)
        frequency = data.frequency or schedule.frequency
        weekday_input = data.weekday if data.weekday is not None else (
            None if frequency == "daily" else schedule.weekday)
        weekday = parse_weekday(weekday_input, frequency)
        time_of_day = parse_time(data.time) if data.time is not None else schedule.time_of_day
        changed = [f for f in ("frequency", "time", "weekday", "targets", "enabled") if getattr(data, f) is not None]
        if data.targets is not None:
            _check_targets(data.targets)
            schedule.spec = data.targets.model_dump(mode="json")
        if data.enabled is not None:
            schedule.enabled = data.enabled
        schedule.frequency, schedule.weekday, schedule.time_of_day = frequency, weekday, time_of_day
        schedule.next_run_at = next_occurrence(frequency, weekday, time_of_day, self._ctx.now())
        self._session.flush()
        return schedule, changed

    def delete(self, ref: uuid.UUID | str) -> ScanSchedule:
        schedule = self.get(ref)
        self._session.delete(schedule)
        self._session.flush()
        return schedule

    def dispatch_due(self, runs: RunBook, now: datetime) -> list[ScanRun]:
        """Start one run for every enabled schedule that is due; skip ticks missed while down."""
        stmt = dialect.skip_locked(self._session, select(ScanSchedule).where(
            ScanSchedule.enabled.is_(True), ScanSchedule.next_run_at <= now))
        started: list[ScanRun] = []
        for schedule in self._session.scalars(stmt.order_by(ScanSchedule.next_run_at)).all():
            due_at = schedule.next_run_at
            run = self._start(runs, schedule, due_at)
            schedule.next_run_at = next_occurrence(schedule.frequency, schedule.weekday, schedule.time_of_day,
                                                   max(now, due_at))
            if run is not None:
                schedule.last_run_at, schedule.last_run_id = now, run.id
                started.append(run)
        self._session.flush()
        return started

    def _start(self, runs: RunBook, schedule: ScanSchedule, due_at: datetime) -> ScanRun | None:
        try:
            with self._session.begin_nested():
                return runs.create(TargetSpec.model_validate(schedule.spec), "schedule",
                                   f"schedule:{schedule.name}", schedule_id=schedule.id, scheduled_for=due_at)
        except IntegrityError:  # this tick already started a run elsewhere
            return None


def _check_targets(spec: TargetSpec) -> None:
    if not spec.hosts and not spec.inventory:
        raise InvalidInput("targets: give hosts or set inventory")

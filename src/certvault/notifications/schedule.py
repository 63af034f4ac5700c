"""When a policy runs: exactly "daily HH:MM" or "weekly mon,thu HH:MM", at that wall-clock time in a timezone.

Pure: no app imports. A wall-clock time that does not exist on a day (the hour skipped when DST starts)
runs at the same offset as before the change (02:30 becomes 03:30); one that exists twice (the hour
repeated when DST ends) runs once, at its first occurrence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from certvault.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FORM = re.compile(r"^(daily|weekly ([a-z]{1,12}(?:,[a-z]{1,12}){0,6})) ([0-2][0-9]):([0-5][0-9])$")


@dataclass(frozen=True)
class Schedule:
    days: tuple[int, ...]  # 0 = Monday; all seven for daily
    at: time

    @property
    def text(self) -> str:
        clock = self.at.strftime("%H:%M")
        if len(self.days) == 7:
            return f"daily {clock}"
        return f"weekly {','.join(DAYS[d] for d in self.days)} {clock}"


def parse(text: str) -> Schedule:
    """`daily 08:00` or `weekly mon,thu 07:30` (24-hour clock), nothing else."""
    match = _FORM.match(" ".join(text.strip().lower().split()))
    if match is None:
        raise InvalidInput(f"schedule {text!r}: write \"daily 08:00\" or \"weekly mon,thu 07:30\"")
    hour, minute = int(match.group(3)), int(match.group(4))
    if hour > 23:
        raise InvalidInput(f"schedule {text!r}: hour {hour} is not 00-23")
    if match.group(2) is None:
        return Schedule(tuple(range(7)), time(hour, minute))
    days = match.group(2).split(",")
    unknown = [d for d in days if d not in DAYS]
    if unknown:
        raise InvalidInput(f"schedule {text!r}: {', '.join(unknown)} is not a day; use {','.join(DAYS)}")
    return Schedule(tuple(sorted({DAYS.index(d) for d in days})), time(hour, minute))


def zone(name: str) -> ZoneInfo:
    if not name or len(name) > 64 or ".." in name:
        raise InvalidInput(f"timezone {name!r} is not an IANA name such as Europe/Berlin or UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"timezone {name!r} is not an IANA name such as Europe/Berlin or UTC") from None


def _at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The instant `at` on `day` in `tz`; a skipped wall time keeps the offset from before the change."""
    # fold=0 (PEP 495): the first of a repeated hour; in a gap, the offset from before the change
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def next_run(schedule: Schedule, tz_name: str, after: datetime) -> datetime:
    """The first run strictly after `after` (an aware datetime), in UTC."""
    tz = zone(tz_name)
    day = after.astimezone(tz).date() - timedelta(days=1)
    for _ in range(16):
        if day.weekday() in schedule.days:
            instant = _at(day, schedule.at, tz)
            if instant > after:
                return instant
        day += timedelta(days=1)
    raise AssertionError("a schedule has at least one day a week")  # unreachable

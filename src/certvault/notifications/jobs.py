"""Job handlers and periodic schedules of this domain."""

from __future__ import annotations

from certvault.jobs.runner import Handler
from certvault.jobs.schedules import PeriodicJob

HANDLERS: dict[str, Handler] = {}
SCHEDULES: list[PeriodicJob] = []

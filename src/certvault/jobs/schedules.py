"""How a domain declares its periodic jobs (collected by the container at start-up)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    job_name: str
    interval: timedelta

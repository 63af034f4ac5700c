"""The tickets consumer of domain events (events/consumers.py): a scan result, a renewed or imported
certificate or an expiry policy run asks for a sync. The sync itself runs as a job (the help desk is
called outside any transaction); events arriving together share one queued sync."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from certvault.events.models import DomainEvent
from certvault.tickets.jobs import SYNC_JOB
from certvault.tickets.sync import DEFAULT_WITHIN_DAYS


def on_event(services: Any, event: DomainEvent) -> None:
    within = _window(event.payload or {})
    payload = {"within_days": within} if within else {}
    services.enqueue(SYNC_JOB, payload, dedup_key=SYNC_JOB, delay=timedelta(seconds=1))


def _window(payload: dict[str, Any]) -> int | None:
    """An expiry policy run's window: as given, or wide enough for every certificate it named."""
    if isinstance(payload.get("within_days"), int):
        days = int(payload["within_days"])
    else:
        left = [c.get("days_left") for c in payload.get("certificates") or [] if isinstance(c, dict)]
        days = max([d for d in left if isinstance(d, int)], default=-1) + 1
    return max(DEFAULT_WITHIN_DAYS, days) if 0 < days <= 3650 else None

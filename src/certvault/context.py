"""What every domain service is built with: one transaction's session and the shared tools."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy.orm import Session

from certvault.audit.service import AuditLog
from certvault.config import Settings
from certvault.db.base import utcnow
from certvault.events.outbox import EventOutbox
from certvault.jobs import queue
from certvault.jobs.models import Job
from certvault.keyring.service import Keyring, Sealer


@dataclass
class ServiceContext:
    session: Session
    settings: Settings
    keyring: Keyring
    sealer: Sealer
    audit: AuditLog
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. plugin registry, HTTP clients

    def enqueue(self, name: str, payload: dict[str, Any] | None = None, **options: Any) -> Job | None:
        """Enqueue a job in this transaction: it exists if and only if the caller commits."""
        job = queue.enqueue(self.session, name, payload, **options)
        self.session.info["jobs_enqueued"] = True
        return job

    @cached_property
    def events(self) -> EventOutbox:
        """The domain-event outbox, appending in this transaction (events/outbox.py)."""
        return EventOutbox(self.session)

    def now(self) -> datetime:
        return utcnow()

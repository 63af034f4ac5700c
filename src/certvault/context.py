"""What every domain service is built with: one transaction's session and the shared tools."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from certvault.config import Settings
from certvault.db.base import utcnow
from certvault.events.outbox import EventOutbox
from certvault.jobs import queue
from certvault.jobs.models import Job
from certvault.keyring.service import Keyring, Sealer
from certvault.plugins.registry import PluginRegistry, default_registry

if TYPE_CHECKING:
    from certvault.audit.service import AuditLog
    from certvault.auth.versioning import VersionedCache
    from certvault.integrations.service import IntegrationService
    from certvault.issuance.clients import ClientPool
    from certvault.plugins.protocols import DNSProvider


@dataclass
class ProcessState:
    """What one process keeps across transactions: the plugin registry, caches and pools."""

    plugins: PluginRegistry = field(default_factory=default_registry)
    access_levels: VersionedCache | None = None  # vault access levels per auth version (vault/access.py)
    acme_clients: ClientPool | None = None  # ACME clients per account (issuance/clients.py)
    dns_providers: dict[tuple[Any, ...], DNSProvider] = field(default_factory=dict)  # issuance/dns_providers.py


def _unwired() -> IntegrationService:
    raise RuntimeError("integration accounts are wired by the container (container.Services)")


@dataclass
class ServiceContext:
    session: Session
    settings: Settings
    keyring: Keyring
    sealer: Sealer
    audit: AuditLog
    process: ProcessState = field(default_factory=ProcessState)
    # The container's integration accounts (DNS accounts, channels, help desks, deploy targets), built on
    # first use: domains that keep accounts of a kind reach them here, with their vault-held secrets.
    integrations: Callable[[], IntegrationService] = _unwired

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

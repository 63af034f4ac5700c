"""The small protocols every integration implements. Imports nothing of the app but errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Protocol

# ---- notifications -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    """One alert as a channel sends it. `details` never holds a secret value."""

    event: str  # e.g. service_account.locked
    title: str
    body: str
    severity: str  # info | warning | critical
    occurred_at: datetime
    details: Mapping[str, str] = field(default_factory=dict)
    message_id: str = ""


class Notifier(Protocol):
    """A notification channel (email, syslog, webhook). Built with validated options and its secret."""

    kind: ClassVar[str]

    def send(self, notification: Notification) -> None:
        """Deliver one notification or raise IntegrationError naming the peer and the reason."""
        ...


# ---- DNS providers (dns-01) --------------------------------------------------------------------

SecretResolver = Callable[[str], str]
"""Gives a plugin one of its secrets by field name (sealed in storage, opened only when used)."""


@dataclass(frozen=True)
class NameServer:
    host: str
    port: int = 53

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Propagation:
    timeout: float = 120.0  # seconds to wait for a record to become visible before giving up
    interval: float = 2.0  # seconds between visibility checks


class DNSProvider(Protocol):
    """Publishes and removes the TXT records of dns-01 challenges in one DNS service.

    Built as `Provider(options, secrets)` where `options` is an instance of the class's `Options`
    pydantic model (validated by the registry) and `secrets` resolves the names in `secret_fields`.
    Errors are IntegrationError (or InvalidInput) with a message that names the service and why.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    secret_fields: ClassVar[tuple[str, ...]]

    def present(self, fqdn: str, value: str) -> None:
        """Add the TXT value at `fqdn` (e.g. _acme-challenge.www.example.com); keep other values."""
        ...

    def cleanup(self, fqdn: str, value: str) -> None:
        """Remove exactly this TXT value; succeed when it is already gone."""
        ...

    def propagation(self) -> Propagation:
        ...

    def visibility_servers(self, fqdn: str) -> list[NameServer]:
        """Where the record must be visible before the CA is told; [] = the zone's authoritative NS."""
        ...

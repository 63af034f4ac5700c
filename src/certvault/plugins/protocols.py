"""The small protocols every integration implements. Imports nothing of the app but errors."""

from __future__ import annotations

from collections.abc import Mapping
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

"""The notifications consumer of domain events (events/consumers.py): each event becomes one outbox message
per subscribed, enabled channel, in the consume job's transaction (NotificationService.publish does the fan-out).
New weaknesses are also kept for vulnerability policies, and a renewal is also mailed to the ACME account's
contact."""

from __future__ import annotations

from typing import Any

from certvault.events.models import DomainEvent


def _details(payload: dict[str, Any]) -> dict[str, Any]:
    """The flat facts a channel shows (syslog structured data, mail lines): scalars, and lists of scalars joined."""
    flat: dict[str, Any] = {}
    for key, value in payload.items():
        if isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
            value = ", ".join(str(item) for item in value) or None
        if isinstance(value, str | int | float | bool):
            flat[key] = value
    return flat


def notify(services: Any, event: DomainEvent) -> None:
    notifications = services.notifications
    notifications.publish(event.type, event.title, event.body, severity=event.severity,
                          subject=event.subject, details=_details(event.payload))
    if event.type == "scan.weakness_found":  # vulnerability policies collate these after the scan
        notifications.record_finding(event.payload)
    elif event.type == "certificate.renewed":  # the ACME account's contact hears of it too
        notifications.tell_account_holder(event.title, event.body, event.payload)

"""Events of TLS scanning (collected by events/catalogue.py): one per endpoint and kind of change in a result.

The same changes stay in `scan_events` as the endpoint's history; these go to the consumers.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from certvault.events.catalogue import EventType

if TYPE_CHECKING:
    from certvault.events.outbox import EventOutbox
    from certvault.scanning.models import ScanEndpoint, ScanEvent

EVENTS = (
    EventType("scan.weakness_found", "a scan found a new weakness on an endpoint"),
    EventType("scan.weakness_cleared", "a weakness an endpoint had is gone"),
    EventType("scan.certificate_changed", "an endpoint serves a different certificate"),
    EventType("scan.certificate_expiring", "the certificate an endpoint serves expires within 30 days"),
    EventType("scan.grade_changed", "an endpoint's grade changed"),
    EventType("scan.endpoint_unreachable", "an endpoint stopped answering"),
    EventType("scan.endpoint_reachable", "an endpoint answers again"),
)
# scan_events.type -> the event appended for it
EVENT_FOR_CHANGE = {
    "weakness_found": "scan.weakness_found", "weakness_fixed": "scan.weakness_cleared",
    "certificate_changed": "scan.certificate_changed", "expiry_warning": "scan.certificate_expiring",
    "grade_changed": "scan.grade_changed", "unreachable": "scan.endpoint_unreachable",
    "reachable": "scan.endpoint_reachable",
}
_WORDS = {  # title, body, severity; {where} is host:port, {ip} the address, {what} the change in words
    "scan.weakness_found": ("Weakness found on {where}", "{where} ({ip}): {what}.", "warning"),
    "scan.weakness_cleared": ("Weakness gone from {where}", "{where} ({ip}) no longer shows: {what}.", "info"),
    "scan.certificate_changed": ("{where} serves a different certificate", "{where} ({ip}): {what}.", "info"),
    "scan.certificate_expiring": ("Certificate served by {where} expires soon", "{where} ({ip}): {what}.",
                                  "warning"),
    "scan.grade_changed": ("Grade of {where} changed", "{where} ({ip}): {what}.", "info"),
    "scan.endpoint_unreachable": ("{where} is unreachable", "{where} ({ip}): {what}.", "warning"),
    "scan.endpoint_reachable": ("{where} answers again", "{where} ({ip}) answers again.", "info"),
}


def _what(change: ScanEvent) -> str:
    if change.type in ("weakness_found", "weakness_fixed"):
        return str(change.details.get("description") or change.subject)
    if change.type == "certificate_changed":
        return f"now {(change.after or {}).get('subject')}, was {(change.before or {}).get('subject')}"
    if change.type == "expiry_warning":
        return f"{change.details.get('subject')} expires {change.details.get('not_after')} ({change.after} days)"
    if change.type == "grade_changed":
        return f"from {change.before} to {change.after}"
    return "; ".join(change.details.get("errors") or []) or str(change.type)


def publish_changes(outbox: EventOutbox, endpoint: ScanEndpoint, result_id: uuid.UUID,
                    changes: list[ScanEvent]) -> None:
    """One event per kind of change in one result (three new weaknesses on an endpoint are one event)."""
    by_type: dict[str, list[ScanEvent]] = {}
    for change in changes:
        by_type.setdefault(change.type, []).append(change)
    where = f"{endpoint.host}:{endpoint.port}"
    for change_type, group in by_type.items():
        name = EVENT_FOR_CHANGE[change_type]
        title, body, severity = _WORDS[name]
        words = {"where": where, "ip": endpoint.ip, "what": "; ".join(_what(c) for c in group)}
        payload = {"endpoint": endpoint.id, "host": endpoint.host, "ip": endpoint.ip, "port": endpoint.port,
                   "sni": endpoint.sni, "result": result_id, "findings": [c.subject for c in group if c.subject],
                   "changes": [{"subject": c.subject, "before": c.before, "after": c.after, "details": c.details}
                               for c in group]}
        outbox.publish(name, title=title.format(**words), body=body.format(**words), severity=severity,
                       subject=where, payload=payload)

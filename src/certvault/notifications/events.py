"""Events of the notifications domain (collected by events/catalogue.py).

An expiry policy run publishes one `certificate.expiring` (and one `certificate.expired` when some already
have) for the whole run, naming the certificates it found: a bulk event, not one per certificate.
"""

from __future__ import annotations

from certvault.events.catalogue import EventType

EXPIRING, EXPIRED, REPORT = "certificate.expiring", "certificate.expired", "notification.expiry_report"

EVENTS = (
    EventType("notification.test", "a test message sent from the channel list"),
    EventType(EXPIRING, "an expiry policy run found certificates expiring within its window (one event per run)"),
    EventType(EXPIRED, "an expiry policy run found certificates that have expired (one event per run)"),
    EventType(REPORT, "the expiry report (HTML with a CSV attachment), sent on its own schedule"),
)

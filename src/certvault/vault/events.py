"""Events of the vault (collected by events/catalogue.py)."""

from __future__ import annotations

from certvault.events.catalogue import EventType

EVENTS = (
    EventType("secret.expiring", "a vault secret reaches its expiry or rotation date soon"),
    EventType("secret.overdue", "a vault secret is past its expiry or rotation date"),
    EventType("approval.requested", "someone asked for access to a secret that requires approval"),
    EventType("approval.decided", "an access request was approved or denied"),
)

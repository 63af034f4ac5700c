"""Events of the notifications domain (collected by events/catalogue.py)."""

from __future__ import annotations

from certvault.events.catalogue import EventType

EVENTS = (
    EventType("notification.test", "a test message sent from the channel list"),
)

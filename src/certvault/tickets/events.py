"""Events of help-desk tickets (collected by events/catalogue.py)."""

from __future__ import annotations

from certvault.events.catalogue import EventType

EVENTS = (
    EventType("ticket.sync_failed", "a help-desk ticket could not be created or updated after repeated tries"),
)

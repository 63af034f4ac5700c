"""Events of deployments (collected by events/catalogue.py)."""

from __future__ import annotations

from certvault.events.catalogue import EventType

VERIFIED, FAILED = "deployment.verified", "deployment.failed"

EVENTS = (
    EventType(VERIFIED, "a certificate was deployed to a target and the target was seen serving it"),
    EventType(FAILED, "a deployment failed or did not verify (rolled back when it had changed something)"),
)

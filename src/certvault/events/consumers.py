"""The consumers of domain events, registered here by name (notifications now; tickets, deployments later).

A consumer is `module:function`, called as `function(services, event)` inside the job transaction that
also deletes the event's delivery row: its effects commit exactly when the event counts as read. A consumer
gets a delivery row for each event published after it is listed here, so one added later starts from now.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from certvault.events.catalogue import matches

if TYPE_CHECKING:
    from certvault.events.models import DomainEvent

ConsumerFunction = Callable[[Any, "DomainEvent"], None]


@dataclass(frozen=True)
class Consumer:
    name: str
    function: str  # "module:function"
    events: tuple[str, ...] = ("*",)  # the event patterns it reads

    def wants(self, event_type: str) -> bool:
        return any(matches(pattern, event_type) for pattern in self.events)

    def resolve(self) -> ConsumerFunction:
        module, _, attr = self.function.partition(":")
        function: ConsumerFunction = getattr(importlib.import_module(module), attr)
        return function


CONSUMERS: dict[str, Consumer] = {
    "notifications": Consumer("notifications", "certvault.notifications.consumer:notify"),
    "tickets": Consumer("tickets", "certvault.tickets.consumer:on_event",
                        ("scan.weakness_found", "scan.weakness_cleared", "scan.certificate_changed", "certificate.*")),
    "deploy": Consumer("deploy", "certvault.deploy.consumer:on_event", ("certificate.issued", "certificate.renewed")),
}


def interested(event_type: str) -> list[str]:
    return [c.name for c in CONSUMERS.values() if c.wants(event_type)]

"""The known events: what each domain declares in its own `events.py` (EVENTS), collected by name.

Listed by module name, like db/registry.py lists model modules, and imported when first needed.
A subscription names one event, `prefix.*` or `*`; publishing an undeclared event is a programming error.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache

from certvault.errors import InvalidInput

EVENT_MODULES = (
    "certvault.auth.events",
    "certvault.certificates.events",
    "certvault.issuance.events",
    "certvault.scanning.events",
    "certvault.vault.events",
    "certvault.notifications.events",
    "certvault.tickets.events",
    "certvault.deploy.events",
)
_PATTERN = re.compile(r"^(\*|[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(\.\*)?)$")


@dataclass(frozen=True)
class EventType:
    name: str
    description: str  # one line, shown where subscriptions are made


@cache
def known() -> dict[str, str]:
    """Every declared event name and its description, in declaration order."""
    found: dict[str, str] = {}
    for module in EVENT_MODULES:
        for event in importlib.import_module(module).EVENTS:
            if event.name in found:
                raise RuntimeError(f"event {event.name} is declared twice (again in {module})")
            found[event.name] = event.description
    return found


def require_known(name: str) -> None:
    if name not in known():
        raise ValueError(f"event {name!r} is not declared in any of {', '.join(EVENT_MODULES)}")


def matches(pattern: str, name: str) -> bool:
    """`*`, an exact name, or `prefix.*` (every event below the prefix)."""
    if pattern == "*" or pattern == name:
        return True
    return pattern.endswith(".*") and name.startswith(pattern[:-1])


def check_pattern(pattern: str) -> str:
    """A subscription's event pattern, refused unless it names at least one known event."""
    pattern = pattern.strip()
    if not _PATTERN.match(pattern):
        raise InvalidInput(f"{pattern!r} is not an event name (e.g. service_account.locked, secret.*, *)")
    if not any(matches(pattern, name) for name in known()):
        raise InvalidInput(f"no event is called {pattern!r}; known events: {', '.join(known())}")
    return pattern

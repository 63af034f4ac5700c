"""Job handlers by name, each domain's job module imported when a worker first meets one of its jobs.

The container names every job module by the prefix its job names share (`acme.` → issuance/jobs.py),
so the worker that `certvault acme request --wait` runs for its order imports the ACME jobs alone,
not the scanner, the vault and the rest (tests/jobs/test_catalog.py holds the names to the prefixes).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from certvault.jobs.runner import Handler
    from certvault.jobs.schedules import PeriodicJob


class JobHandlers(dict[str, "Handler"]):
    """A dict of handlers that imports the module of a name's prefix on the first lookup of such a name."""

    def __init__(self, modules: Mapping[str, str], handlers: Mapping[str, Handler] | None = None) -> None:
        super().__init__(handlers or {})
        self._pending = dict(modules)  # prefix -> job module not imported yet
        self._lock = threading.Lock()  # handlers run in a thread pool

    def get(self, name: str, default: Any = None) -> Any:
        self._load_for(name)
        return super().get(name, default)

    def __contains__(self, name: object) -> bool:
        self._load_for(str(name))
        return super().__contains__(name)

    def __missing__(self, name: str) -> Handler:
        if self._load_for(name) and super().__contains__(name):
            return super().__getitem__(name)
        raise KeyError(name)

    def _load_for(self, name: str) -> bool:
        with self._lock:
            prefixes = [prefix for prefix in self._pending if name.startswith(prefix)]
            for prefix in prefixes:
                self.update(importlib.import_module(self._pending.pop(prefix)).HANDLERS)
            return bool(prefixes)


def collect(modules: Iterable[str]) -> tuple[dict[str, Handler], list[PeriodicJob]]:
    """The handlers and schedules of the job modules named (each exports HANDLERS and SCHEDULES)."""
    handlers: dict[str, Handler] = {}
    schedules: list[PeriodicJob] = []
    for name in modules:
        module = importlib.import_module(name)
        handlers.update(module.HANDLERS)
        schedules.extend(module.SCHEDULES)
    return handlers, schedules

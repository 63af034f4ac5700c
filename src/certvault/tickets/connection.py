"""Counting a sync's calls to a help desk (the bench reports API calls per ticket)."""

from __future__ import annotations

import threading
from typing import Any


class CallCounter:
    """HTTP requests made through the clients of one sync: an httpx request hook (IntegrationService.http_for)."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, request: Any) -> None:
        with self._lock:
            self.calls += 1

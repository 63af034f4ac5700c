"""Pacing: at most N requests per interval per account, shared by every client of that account.

A token bucket holding up to N tokens that refills N per interval: a burst of N goes out at once,
then one request every interval/N. `reserve()` takes a token (possibly one not yet refilled) and
says how long to wait for it, so a sync caller sleeps and an async caller awaits the same bucket.
The buckets live in one process; several processes each pace on their own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(self, requests: int, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.requests, self.interval = requests, interval
        self._rate = requests / interval  # tokens per second
        self._clock = clock
        self._tokens = float(requests)
        self._stamp = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take one token; return the seconds to wait before using it (0 when one is there)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.requests), self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self._rate


class Pacers:
    """One bucket per account key; a changed rate for the key starts a new bucket."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, account_key: str, requests: int, interval: float) -> TokenBucket:
        with self._lock:
            bucket = self._buckets.get(account_key)
            if bucket is None or (bucket.requests, bucket.interval) != (requests, interval):
                bucket = self._buckets[account_key] = TokenBucket(requests, interval)
            return bucket

"""When to try a request again, and how long to wait first.

Retried: connection failures and connect timeouts (nothing was sent), and the statuses 429 and
503 (the server did not handle it) for every method; read failures and 502/504 only for
idempotent methods, so a POST is never sent twice after it may have been handled. TLS failures
are never retried. The wait is the server's `Retry-After` (seconds or an HTTP date) when it
gives one, otherwise `backoff` doubled each time with jitter; no wait exceeds `max_retry_wait`,
and a server asking for longer ends the retries at once (the error carries `retry_after`, for a
delayed job).
"""

from __future__ import annotations

import random
import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from certvault.outbound.options import ClientOptions

RETRY_STATUSES = frozenset({429, 502, 503, 504})
NOT_HANDLED_STATUSES = frozenset({429, 503})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


def retry_after(headers: httpx.Headers, now: datetime | None = None) -> float | None:
    """Seconds the server asks to wait (Retry-After as delta-seconds or HTTP date), or None."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def status_is_retryable(method: str, status: int) -> bool:
    return status in NOT_HANDLED_STATUSES or (status in RETRY_STATUSES and method in IDEMPOTENT)


def error_is_retryable(method: str, exc: httpx.TransportError) -> bool:
    if caused_by(exc, ssl.SSLError):
        return False
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return True
    return method in IDEMPOTENT and isinstance(exc, httpx.ReadError | httpx.ReadTimeout | httpx.WriteError |
                                                  httpx.WriteTimeout | httpx.RemoteProtocolError)


def backoff(options: ClientOptions, attempt: int) -> float:
    """Wait before retry number `attempt` (1, 2, ...): between half and all of backoff * 2^(attempt-1)."""
    full = min(options.max_retry_wait, options.backoff * 2 ** (attempt - 1))
    return random.uniform(full / 2, full)


def caused_by(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of `kind` in `exc`'s chain (httpx wraps httpcore wraps ssl)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None

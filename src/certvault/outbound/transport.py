"""The transports under every outbound client: pacing, retries, the response cap, typed errors.

Each attempt first waits for the account's pacing token, then goes to httpx's own transport
(which holds the TLS context); a retryable outcome waits as `retries.py` says and tries again.
Sync and async share everything but the sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import time

import httpx

from certvault.errors import InvalidInput
from certvault.outbound.bodies import capped
from certvault.outbound.errors import RetriesExhausted
from certvault.outbound.failures import failure, peer
from certvault.outbound.options import ClientOptions
from certvault.outbound.pacing import TokenBucket
from certvault.outbound.redact import redact_url
from certvault.outbound.retries import backoff, error_is_retryable, retry_after, status_is_retryable

log = logging.getLogger("certvault.outbound")


class RetryPlan:
    """Decides after each attempt: done (None), wait this long and retry, or raise the final error."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options

    def check(self, request: httpx.Request) -> None:
        if request.url.scheme != "https" and not self.options.allow_plain_http:
            raise InvalidInput(f"refusing plain {request.url.scheme}:// to {peer(request.url)}: use https://")

    def after_response(self, request: httpx.Request, response: httpx.Response, attempt: int) -> float | None:
        status = response.status_code
        log.debug("%s %s answered %d (attempt %d)", request.method, redact_url(request.url), status, attempt)
        if not status_is_retryable(request.method, status):
            return None
        asked = retry_after(response.headers)
        if attempt > self.options.retries or (asked is not None and asked > self.options.max_retry_wait):
            raise _exhausted(request, status, attempt, asked, self.options.max_retry_wait)
        wait = asked if asked is not None else backoff(self.options, attempt)
        self._log_retry(request, f"HTTP {status}", wait, attempt)
        return wait

    def after_error(self, request: httpx.Request, exc: httpx.TransportError, attempt: int) -> float:
        if attempt > self.options.retries or not error_is_retryable(request.method, exc):
            raise failure(exc, request, attempt) from None
        wait = backoff(self.options, attempt)
        self._log_retry(request, type(exc).__name__, wait, attempt)
        return wait

    def _log_retry(self, request: httpx.Request, why: str, wait: float, attempt: int) -> None:
        log.info("%s %s: %s; retry %d of %d in %.1f s", request.method, redact_url(request.url), why, attempt,
                 self.options.retries, wait)


def _exhausted(request: httpx.Request, status: int, attempts: int, asked: float | None,
               cap: float) -> RetriesExhausted:
    where = peer(request.url)
    if asked is not None and asked > cap:
        why = f"asks to retry after {asked:g} s, more than max_retry_wait {cap:g} s"
    else:
        why = f"after {attempts} attempt{'s' if attempts > 1 else ''}"
    return RetriesExhausted(f"{where} answered HTTP {status} to {request.method}, {why}", host=where,
                            status=status, retry_after=asked)


class OutboundTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, options: ClientOptions, bucket: TokenBucket | None) -> None:
        self._inner, self._plan, self._bucket = inner, RetryPlan(options), bucket

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._plan.check(request)
        request.read()  # a retry sends the same body again
        attempt = 1
        while True:
            if self._bucket is not None:
                time.sleep(self._bucket.reserve())
            wait: float | None
            try:
                response = self._inner.handle_request(request)
            except httpx.TransportError as exc:
                wait = self._plan.after_error(request, exc, attempt)
            else:
                try:
                    wait = self._plan.after_response(request, response, attempt)
                    if wait is None:
                        return capped(response, request, self._plan.options.max_response_bytes)
                except BaseException:
                    response.close()
                    raise
                response.close()
            time.sleep(wait)
            attempt += 1

    def close(self) -> None:
        self._inner.close()


class AsyncOutboundTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, options: ClientOptions, bucket: TokenBucket | None) -> None:
        self._inner, self._plan, self._bucket = inner, RetryPlan(options), bucket

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._plan.check(request)
        await request.aread()
        attempt = 1
        while True:
            if self._bucket is not None:
                await asyncio.sleep(self._bucket.reserve())
            wait: float | None
            try:
                response = await self._inner.handle_async_request(request)
            except httpx.TransportError as exc:
                wait = self._plan.after_error(request, exc, attempt)
            else:
                try:
                    wait = self._plan.after_response(request, response, attempt)
                    if wait is None:
                        return capped(response, request, self._plan.options.max_response_bytes)
                except BaseException:
                    await response.aclose()
                    raise
                await response.aclose()
            await asyncio.sleep(wait)
            attempt += 1

    async def aclose(self) -> None:
        await self._inner.aclose()


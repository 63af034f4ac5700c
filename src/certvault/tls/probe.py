"""Connections: bounded per host, rate-limited per IP, counted, closed with RST, every step under a timeout."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from certvault.tls import starttls
from certvault.tls.records import RecordReader, ServerFlight, TLSParseError

LINGER_RST = struct.pack("ii", 1, 0)


class ProbeError(Exception):
    """A network step failed (refused, reset, timeout); the message says which."""


class RateLimiter:
    """Token bucket of new connections per second for one IP (shared by every scan of that IP)."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self._interval
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass
class Endpoint:
    ip: str
    port: int
    starttls: str | None
    timeout: float


class Connector:
    """Opens connections to one endpoint; ≤ N in flight, optional per-IP rate, counts them all."""

    def __init__(self, endpoint: Endpoint, max_in_flight: int, limiter: RateLimiter | None = None) -> None:
        self.endpoint = endpoint
        self.connections = 0
        self._slots = asyncio.Semaphore(max_in_flight)
        self._limiter = limiter

    @asynccontextmanager
    async def open(self) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
        """A connected stream, after the STARTTLS preamble when the endpoint needs one."""
        async with self._slots:
            if self._limiter is not None:
                await self._limiter.wait()
            self.connections += 1
            ep = self.endpoint
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(ep.ip, ep.port), ep.timeout)
            except (TimeoutError, OSError) as exc:
                raise ProbeError(_describe(exc, f"connect to {ep.ip}:{ep.port}")) from exc
            sock = writer.get_extra_info("socket")
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if ep.starttls:
                    await asyncio.wait_for(starttls.upgrade(ep.starttls, reader, writer), ep.timeout)
                yield reader, writer
            except (TimeoutError, OSError, asyncio.IncompleteReadError, starttls.StartTLSError) as exc:
                raise ProbeError(_describe(exc, "STARTTLS" if ep.starttls else "exchange")) from exc
            finally:
                writer.transport.abort()  # RST (SO_LINGER 0): no TIME_WAIT pile-up on the scanner

    async def exchange(self, payload: bytes, done: Callable[[ServerFlight], bool]) -> ServerFlight:
        """Send a ClientHello, read records until `done` says enough, an alert, EOF or the timeout."""
        async with self.open() as (reader, writer):
            writer.write(payload)
            return await read_flight(reader, done, self.endpoint.timeout)

    async def raw_exchange(self, payload: bytes, parse: Callable[[bytes], object | None]) -> object | None:
        """Send bytes and feed the reply to `parse` until it returns something (SSLv2 speaks no records)."""
        async with self.open() as (reader, writer):
            writer.write(payload)
            data = b""
            deadline = time.monotonic() + self.endpoint.timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                try:
                    chunk = await asyncio.wait_for(reader.read(16384), remaining)
                except (TimeoutError, ConnectionError):
                    return None
                if not chunk:
                    return None
                data += chunk
                parsed = parse(data)
                if parsed is not None:
                    return parsed


async def read_flight(reader: asyncio.StreamReader, done: Callable[[ServerFlight], bool],
                      timeout: float) -> ServerFlight:
    records = RecordReader()
    try:
        async with asyncio.timeout(timeout):  # one timer for the whole read, not one task per chunk
            while not done(records.flight) and records.flight.alert is None:
                chunk = await reader.read(65536)
                if not chunk:
                    records.flight.closed = True
                    break
                records.feed(chunk)
    except TimeoutError:
        pass
    except (ConnectionError, TLSParseError):
        records.flight.closed = True
    return records.flight


def until_server_hello(flight: ServerFlight) -> bool:
    return flight.server_hello is not None


def until_hello_done(flight: ServerFlight) -> bool:
    hello = flight.server_hello
    if hello is not None and (hello.negotiated_version == 0x0304 or hello.hello_retry):
        return True
    return flight.hello_done


def _describe(exc: BaseException, step: str) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return f"{step}: timed out"
    if isinstance(exc, ConnectionRefusedError):
        return f"{step}: connection refused"
    if isinstance(exc, asyncio.IncompleteReadError):
        return f"{step}: connection closed"
    return f"{step}: {exc.__class__.__name__}: {exc}".rstrip(": ")

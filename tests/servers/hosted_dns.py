"""The machinery the fake hosted DNS APIs share (cloudflare_fake, azure_dns_fake, godaddy_fake, cloudns_fake).

`FakeDNSAPI(tls, *, write_through=None, limit=None)` is a stateful HTTPS server on 127.0.0.1 with:

- a record store: `zones` (name -> list of `Record(id, name, type, value, ttl)`), seeded with
  `add_zone(name)` and `add_record(fqdn, value, type="TXT")`; read back with `txt(fqdn)`,
  `in_zone_values(zone, fqdn)` and
  `snapshot()` (every record of every zone, to prove a cleanup left the rest as it was);
- injected failures: `fail(status, times=1, retry_after=None, method=None, path=None)` answers the
  next `times` matching requests with that status (and Retry-After) before the real handling;
  `served` counts what was answered so, `clear_failures()` drops what is left;
- an optional documented rate limit `limit=(requests, seconds)`: over it the fake answers 429 with
  Retry-After, as the real API does;
- call counting: `calls` (monotonic time, method, path) for every request, `count(method, path_part)`
  and `peak_per_minute()` (the most calls in any 60 s window), reset with `reset_counts()`;
- `write_through`: called after every TXT change with (fqdn, the name's whole TXT value list) so a
  Pebble end-to-end test can mirror the fake into a real zone. Either a callable or an object with
  `replace(name, "TXT", values)` such as tests/servers/bind9.Bind9 (an RFC 2136 target).

A subclass sets `prefix` (the API's base path) and implements `handle(request) -> Reply`.
`url` is what a DNS account's `endpoint` is set to; `start()` / `stop()` run the server thread.
"""

from __future__ import annotations

import bisect
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers.process import free_port
from tests.servers.test_ca import LoopbackTLS

WriteThrough = Callable[[str, list[str]], None] | Any


@dataclass
class Record:
    name: str  # fqdn, lower case, no trailing dot
    value: str
    type: str = "TXT"
    ttl: int = 300
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class Request:
    method: str
    path: str  # below the fake's prefix, e.g. "zones/abc/dns_records"
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        """Query and urlencoded body parameters together (ClouDNS takes either)."""
        merged = dict(self.query)
        if self.body and "json" not in self.headers.get("content-type", ""):
            merged.update({k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()})
        return merged


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Failure:
    status: int
    times: int
    retry_after: float | None
    method: str | None
    path: str | None
    body: Any


class FakeDNSAPI:
    prefix = ""

    def __init__(self, tls: LoopbackTLS, *, write_through: WriteThrough | None = None,
                 limit: tuple[int, float] | None = None) -> None:
        self.tls = tls
        self.port = free_port()
        self.zones: dict[str, list[Record]] = {}
        self.write_through = write_through
        self.limit = limit
        self.calls: list[tuple[float, str, str]] = []
        self.lock = threading.RLock()
        self._failures: list[_Failure] = []
        self.served: dict[int, int] = {}  # injected or rate-limit statuses answered, by status
        self._times: list[float] = []  # for the rate limit
        self._ids = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                reply = fake.dispatch(Request(self.command, parts.path, {k: v[-1] for k, v in parse_qs(
                    parts.query, keep_blank_values=True).items()}, {k.lower(): v for k, v in self.headers.items()},
                    body))
                data = reply.body if isinstance(reply.body, bytes) else (
                    b"" if reply.body is None else json.dumps(reply.body).encode())
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any  # noqa: N815 (http.server API)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._server.socket = tls.server_context().wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ---- running ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}{self.prefix}"

    def start(self) -> FakeDNSAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---- state -----------------------------------------------------------------------------------
    def add_zone(self, name: str) -> None:
        with self.lock:
            self.zones.setdefault(name.lower().rstrip("."), [])

    def zone_of(self, fqdn: str) -> str | None:
        labels = fqdn.lower().rstrip(".").split(".")
        for start in range(len(labels)):
            if ".".join(labels[start:]) in self.zones:
                return ".".join(labels[start:])
        return None

    def add_record(self, fqdn: str, value: str, type: str = "TXT", ttl: int = 300,  # noqa: A002
                   zone: str | None = None, quiet: bool = False) -> Record:
        """Into `zone` (default: the longest zone holding the name); `quiet` skips the write-through."""
        fqdn = fqdn.lower().rstrip(".")
        zone = zone or self.zone_of(fqdn)
        assert zone is not None, f"no zone for {fqdn}"
        record = Record(fqdn, value, type, ttl, id=self.new_id())
        with self.lock:
            self.zones[zone].append(record)
            if not quiet:
                self.changed(fqdn, type)
        return record

    def new_id(self) -> str:
        return f"{next(self._ids):06d}{uuid.uuid4().hex[:26]}"

    def records(self, fqdn: str, type: str = "TXT", zone: str | None = None) -> list[Record]:  # noqa: A002
        fqdn = fqdn.lower().rstrip(".")
        zone = zone or self.zone_of(fqdn)
        return [r for r in self.zones.get(zone or "", []) if r.name == fqdn and r.type == type]

    def txt(self, fqdn: str) -> list[str]:
        """The TXT values of `fqdn` in every zone (as a resolver would see them, zones not overlapping)."""
        fqdn = fqdn.lower().rstrip(".")
        return [r.value for rs in list(self.zones.values()) for r in rs if r.name == fqdn and r.type == "TXT"]

    def replace_set(self, zone: str, fqdn: str, values: list[str], ttl: int) -> None:
        """Make the TXT set of `fqdn` in `zone` exactly `values` (replace semantics), one write-through."""
        with self.lock:
            self.zones[zone] = [r for r in self.zones[zone] if not (r.name == fqdn and r.type == "TXT")]
            for value in values:
                self.add_record(fqdn, value, "TXT", ttl, zone=zone, quiet=True)
            self.changed(fqdn, "TXT")

    def in_zone_values(self, zone: str, fqdn: str) -> list[str]:
        """TXT values of `fqdn` held in exactly `zone` (which zone a provider wrote to)."""
        return [r.value for r in self.zones.get(zone, []) if r.name == fqdn and r.type == "TXT"]

    def snapshot(self) -> dict[str, list[tuple[str, str, str]]]:
        with self.lock:
            return {z: sorted((r.name, r.type, r.value) for r in rs) for z, rs in self.zones.items()}

    def remove(self, record: Record) -> None:
        with self.lock:
            for records in self.zones.values():
                if record in records:
                    records.remove(record)
            self.changed(record.name, record.type)

    def changed(self, fqdn: str, type: str) -> None:  # noqa: A002
        if type != "TXT" or self.write_through is None:
            return
        values = self.txt(fqdn)
        if callable(self.write_through):
            self.write_through(fqdn, values)
        else:
            self.write_through.replace(fqdn, "TXT", values)

    # ---- failures, limits and counts -------------------------------------------------------------
    def fail(self, status: int, times: int = 1, retry_after: float | None = None, method: str | None = None,
             path: str | None = None, body: Any = None) -> None:
        with self.lock:
            self._failures.append(_Failure(status, times, retry_after, method, path, body))

    def clear_failures(self) -> None:
        with self.lock:
            self._failures.clear()

    def count(self, method: str | None = None, path_part: str = "") -> int:
        return sum(1 for _t, m, p in list(self.calls) if (method is None or m == method) and path_part in p)

    def reset_counts(self) -> None:
        with self.lock:
            self.calls.clear()

    def peak_per_minute(self) -> int:
        times = sorted(t for t, _m, _p in list(self.calls))
        return max((bisect.bisect_right(times, t + 60.0) - i for i, t in enumerate(times)), default=0)

    def dispatch(self, request: Request) -> Reply:
        if not request.path.startswith(self.prefix):
            return Reply(404, {"error": "not found"})
        request.path = request.path[len(self.prefix):].lstrip("/")
        now = time.monotonic()
        with self.lock:
            self.calls.append((now, request.method, request.path))
            injected = self._injected(request)
            if injected is None and self.limit is not None:
                injected = self._over_limit(now)
        if injected is not None:
            return injected
        with self.lock:
            return self.handle(request)

    def _injected(self, request: Request) -> Reply | None:
        for failure in self._failures:
            if failure.times > 0 and failure.method in (None, request.method) and (
                    failure.path is None or failure.path in request.path):
                failure.times -= 1
                self.served[failure.status] = self.served.get(failure.status, 0) + 1
                headers = {} if failure.retry_after is None else {"Retry-After": f"{failure.retry_after:g}"}
                return Reply(failure.status, failure.body if failure.body is not None else self.error_body(
                    failure.status), headers)
        return None

    def _over_limit(self, now: float) -> Reply | None:
        requests, window = self.limit  # type: ignore[misc]
        self._times = [t for t in self._times if t > now - window]
        if len(self._times) >= requests:
            wait = max(1, int(self._times[0] + window - now + 1))
            self.served[429] = self.served.get(429, 0) + 1
            return Reply(429, self.error_body(429), {"Retry-After": str(wait)})
        self._times.append(now)
        return None

    # ---- for subclasses --------------------------------------------------------------------------
    def error_body(self, status: int) -> Any:
        return {"error": f"HTTP {status}"}

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

"""The HTTPS plumbing the help-desk fakes share: a threaded loopback server that can require a client
certificate, counts API calls by method and fails on demand.

A fake subclasses `FakeHelpDesk` and implements `route(request) -> Reply`. Everything else is here:

    fake = ServiceNowFake(tls, client_ca=ca_pem_path).start()   # any subclass
    fake.url                      # https://127.0.0.1:PORT (the base URL as admins know it)
    fake.calls                    # Counter of API calls by method ("GET", "POST", ...), auth calls excluded
    fake.fail_next("503", 2)      # the next 2 API calls answer 503 (any 4xx/5xx code as text)
    fake.fail_next("429", 1, retry_after=1)   # 429 with Retry-After: 1
    fake.fail_next("timeout", 1, delay=3)     # answer (and do the work) only after 3 s
    fake.fail_next("drop", 1)     # close the connection without answering (the work is not done)
    fake.fail_next("drop_after", 1)   # do the work, then close without answering
    fake.fail_next("refuse_state", 1) # the next status change answers success but the status stays
    fake.clear_failures()         # the help desk is back
    fake.stop()

With `client_ca` (a PEM file, path or bytes) the TLS handshake requires a client certificate signed by
that CA; without it no client certificate is asked for. Failures apply to API calls only, not to the
OAuth token endpoint. The handshake runs in the connection's own thread, so a client that never
finishes one does not block the others; connections are HTTP/1.1 keep-alive.
"""

from __future__ import annotations

import json
import socket
import ssl
import tempfile
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers.process import free_port
from tests.servers.test_ca import LoopbackTLS

FAILURE_KINDS = ("timeout", "drop", "drop_after", "refuse_state")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-encoded unless bytes or None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


@dataclass
class Failure:
    kind: str  # an HTTP status as text ("503"), or one of FAILURE_KINDS
    retry_after: int | None = None
    delay: float = 5.0


def _ca_file(client_ca: Path | str | bytes | None) -> str | None:
    if client_ca is None:
        return None
    if isinstance(client_ca, bytes):
        handle = tempfile.NamedTemporaryFile(prefix="client-ca-", suffix=".pem", delete=False)  # noqa: SIM115
        handle.write(client_ca)
        handle.close()
        return handle.name
    return str(client_ca)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeHelpDesk

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            conn = self.fake.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            self.fake.handshake_failures += 1
            request.close()
            return
        try:
            super().finish_request(conn, client_address)
        finally:
            conn.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-answer (a dropped or timed-out call) is expected here


class FakeHelpDesk:
    """Base of the three fakes; see the module docstring for the shared interface."""

    title = "help desk"

    def __init__(self, tls: LoopbackTLS, client_ca: Path | str | bytes | None = None) -> None:
        self.port = free_port()
        self.context = tls.server_context()
        ca = _ca_file(client_ca)
        if ca is not None:
            self.context.verify_mode = ssl.CERT_REQUIRED
            self.context.load_verify_locations(ca)
        self.calls: Counter[str] = Counter()
        self.log: list[tuple[str, str]] = []  # (method, path) of each API call, in order
        self.handshake_failures = 0
        self.lock = threading.RLock()
        self._failures: deque[Failure] = deque()
        self._refusals = 0
        self._server = _Server(("127.0.0.1", self.port), _handler(self))
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ---- lifecycle ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> Any:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ---- failure injection --------------------------------------------------------------------
    def fail_next(self, kind: str, count: int = 1, *, retry_after: int | None = None, delay: float = 5.0) -> None:
        if kind not in FAILURE_KINDS and not (kind.isdigit() and 400 <= int(kind) <= 599):
            raise ValueError(f"unknown failure {kind!r}: an HTTP status or one of {FAILURE_KINDS}")
        with self.lock:
            if kind == "refuse_state":
                self._refusals += count
                return
            if kind == "429" and retry_after is None:
                retry_after = 1
            self._failures.extend(Failure(kind, retry_after, delay) for _ in range(count))

    def clear_failures(self) -> None:
        """The help desk is back: drop every failure still queued (and pending refusals)."""
        with self.lock:
            self._failures.clear()
            self._refusals = 0

    def take_refusal(self) -> bool:
        """True when a business rule should silently refuse this status change (subclasses ask)."""
        with self.lock:
            if self._refusals > 0:
                self._refusals -= 1
                return True
            return False

    def _next_failure(self) -> Failure | None:
        with self.lock:
            return self._failures.popleft() if self._failures else None

    def writes(self) -> int:
        return sum(n for method, n in self.calls.items() if method != "GET")

    # ---- for subclasses -----------------------------------------------------------------------
    def is_auth_call(self, request: Request) -> bool:
        """Token endpoints: not counted, never failed."""
        return False

    def failure_reply(self, status: int, failure: Failure) -> Reply:
        """The vendor's error envelope for an injected status."""
        return Reply(status, {"error": f"injected HTTP {status}"})

    def route(self, request: Request) -> Reply:
        raise NotImplementedError

    def dispatch(self, request: Request) -> Reply | None:
        """The reply, or None to drop the connection without one."""
        if self.is_auth_call(request):
            return self.route(request)
        with self.lock:
            self.calls[request.method] += 1
            self.log.append((request.method, request.path))
        failure = self._next_failure()
        if failure is None:
            return self.route(request)
        if failure.kind == "drop":
            return None
        if failure.kind == "timeout":
            time.sleep(failure.delay)
            return self.route(request)
        if failure.kind == "drop_after":
            self.route(request)
            return None
        reply = self.failure_reply(int(failure.kind), failure)
        if failure.retry_after is not None:
            reply.headers["Retry-After"] = str(failure.retry_after)
        return reply


def _handler(fake: FakeHelpDesk) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body leave at once: no 40 ms delayed-ACK stall per call

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length", "0") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Request(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                              {k.lower(): v for k, v in self.headers.items()}, body)
            try:
                reply = fake.dispatch(request)
            except Exception as exc:  # a bug in the fake shows as a 500 naming it, not as a hang
                reply = Reply(500, {"fake_error": f"{type(exc).__name__}: {exc}"})
            if reply is None:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            data = reply.encoded()
            self.send_response(reply.status)
            if reply.body is not None and "Content-Type" not in reply.headers:
                self.send_header("Content-Type", "application/json;charset=UTF-8")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815 (http.server API)

        def log_message(self, *_args: Any) -> None:
            pass

    return Handler

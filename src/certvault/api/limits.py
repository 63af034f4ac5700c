"""Request body limits, enforced before anything parses a body, on every route (API, web UI, direct routes).

`BodyLimit` sits in front of the direct routes and FastAPI's stack. A declared Content-Length past the limit
is answered 413 without reading a byte; a body without one (chunked, or HTTP/2) is counted as it arrives,
and the 413 goes out the moment the count passes the limit: the route then sees the client gone, and nothing
it says after that is sent. The answer comes from the application's handler for `TooLarge` (problem details; an
error page for a browser) and closes the connection, so the rest of the upload is not read.

Every route accepts `server.max_body_bytes`; a route that takes files is marked `@upload_body` and accepts
`server.max_upload_bytes`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi.routing import APIRoute, iter_route_contexts
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from certvault.errors import TooLarge

F = TypeVar("F", bound=Callable[..., Any])
_UPLOAD_MARK = "_certvault_upload_body"
Handler = Callable[[Request, Any], Response | Awaitable[Response]]
Handlers = dict[Any, Handler]  # FastAPI's exception handlers: plain or async functions


def upload_body(endpoint: F) -> F:
    """Mark a route that takes files: its body may be up to `server.max_upload_bytes` (put under @router.post)."""
    setattr(endpoint, _UPLOAD_MARK, True)
    return endpoint


async def handle(handler: Handler, request: Request, exc: Exception) -> Response:
    """The response of an application exception handler to `exc`."""
    response = handler(request, exc)
    return response if isinstance(response, Response) else await response


@dataclass(frozen=True)
class Limits:
    body: int
    upload: int
    upload_routes: tuple[tuple[frozenset[str], re.Pattern[str]], ...] = ()

    @classmethod
    def of(cls, body: int, upload: int, routes: Iterable[Any]) -> Limits:
        marked = tuple((frozenset(ctx.original_route.methods or ()), compile_path(ctx.path_format)[0])
                       for ctx in iter_route_contexts(list(routes))
                       if isinstance(ctx.original_route, APIRoute) and ctx.path_format
                       and getattr(ctx.original_route.endpoint, _UPLOAD_MARK, False))
        return cls(body, max(body, upload), marked)

    def for_size(self, scope: Scope, size: int) -> int:
        """The limit that applies to a body of `size` bytes sent to `scope`'s route (the route is only looked up
        for a body past the general limit)."""
        if size <= self.body:
            return self.body
        method, path = scope["method"], scope["path"]
        uploads = any(method in methods and regex.match(path) for methods, regex in self.upload_routes)
        return self.upload if uploads else self.body

    def setting(self, limit: int) -> str:
        return "server.max_upload_bytes" if limit == self.upload and limit != self.body else "server.max_body_bytes"


class BodyLimit:
    def __init__(self, app: ASGIApp, limits: Limits, handlers: Handlers) -> None:
        self.app, self.limits, self.handlers = app, limits, handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = self.limits
        declared, chunked = _declared_length(scope["headers"])
        if declared is None and not chunked and scope.get("http_version") in ("1.0", "1.1"):
            await self.app(scope, receive, send)  # HTTP/1 without either header: the request has no body
            return
        if declared is not None and not chunked:
            limit = limits.for_size(scope, declared)
            if declared > limit:
                await self.refuse(scope, receive, send, limits, limit)
            else:  # the server delivers no more than the declared length
                await self.app(scope, receive, send)
            return
        await _Counted(self, scope, receive, send, limits).run()

    async def refuse(self, scope: Scope, receive: Receive, send: Send, limits: Limits, limit: int) -> None:
        error = TooLarge(f"the request body is larger than {limit:,} bytes, the most this route accepts "
                         f"(setting {limits.setting(limit)})")
        handler = next(self.handlers[cls] for cls in type(error).__mro__ if cls in self.handlers)
        response = await handle(handler, Request(scope, receive), error)
        response.headers["connection"] = "close"  # the rest of the upload is not read
        await response(scope, receive, send)


class _Counted:
    """One request whose body has no declared length: counted as the route reads it."""

    def __init__(self, outer: BodyLimit, scope: Scope, receive: Receive, send: Send, limits: Limits) -> None:
        self.outer, self.scope, self._receive, self._send, self.limits = outer, scope, receive, send, limits
        self.seen, self.limit = 0, limits.body
        self.started = self.refused = False

    async def run(self) -> None:
        try:
            await self.outer.app(self.scope, self.receive, self.send)
        except Exception:
            if not self.refused:  # what the route made of the cut-off body is not the client's answer
                raise

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit:
                self.limit = self.limits.for_size(self.scope, self.seen)
            if self.seen > self.limit:
                if not self.started:
                    await self.outer.refuse(self.scope, self._receive, self._send, self.limits, self.limit)
                self.refused = True
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)


def _declared_length(headers: Iterable[tuple[bytes, bytes]]) -> tuple[int | None, bool]:
    """The Content-Length (the largest, if repeated; None if absent or unreadable) and whether the body is
    chunked (Transfer-Encoding wins over Content-Length)."""
    declared: int | None = None
    chunked = False
    for name, value in headers:
        if name == b"content-length":
            try:
                declared = max(declared or 0, int(value))
            except ValueError:
                chunked = True  # count it instead
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked

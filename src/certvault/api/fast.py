"""Direct routes for the reads API clients repeat (an integration fetching a secret per job).

FastAPI's dependency solving, validation and worker-thread trips cost more CPU than such a read itself. A
`BearerFastRoute` serves the plain form of one request (bearer token, canonical path, no query string, none of
`fallback_headers`) with the same steps as the regular route: `bearer_actor` (token, account, IP allow-list, a
password change due), the role permission, the endpoint's service call, and the commit of its audit row before
anything is sent. Anything else (cookies, query parameters, odd ids, other methods) does not match and falls through to
the regular FastAPI route, which also documents the operation in OpenAPI. `DirectRoutes` sits in front of
FastAPI's middleware and routing; an error is answered by the application's exception handler for it.

How a read runs:
- on a read-only session (no write transaction: on SQLite no writer lock, on PostgreSQL no head-row lock), its
  audit rows collected and then group-committed (audit/group.py) with those of concurrent requests;
- on the event loop itself, less than the trip to a thread and back costs once threads convoy on the GIL
  (measured at 32 connections with 2 processes, threads served 1,346 (SQLite) and 866 (PostgreSQL) reads/s, the
  loop 3,514 and 2,115). The reads of one loop pass read their rows ahead in one statement (`Prefetch`); the
  request then awaits its group's commit without holding anything;
- work that would write (check-out, approval, DoubleLock, a token's use to record, any flush) raises
  NeedsTransaction before writing and is redone in a thread in a regular transaction.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from certvault.api.deps import bearer_actor
from certvault.api.limits import Handlers, handle
from certvault.audit.group import group_commit
from certvault.auth.credentials import READ_VERSION
from certvault.auth.rbac import Actor, Permission
from certvault.auth.rbac import require as require_permission
from certvault.container import App, NeedsTransaction, Services, read_sessions
from certvault.passes import PassBatch, Waiting, settle

# Threads per process for the reads redone in a transaction. Few on purpose: requests beyond these wait in the
# queue on the event loop instead of as threads holding database connections (forty threads mostly convoyed on
# the GIL, SQLite's writer lock and PostgreSQL's audit-head row lock).
FAST_ROUTE_THREADS = 4
_fast_pools: dict[int, ThreadPoolExecutor] = {}


def _fast_threads() -> ThreadPoolExecutor:
    pid = os.getpid()  # `serve --workers N` forks: each process starts its own threads
    pool = _fast_pools.get(pid)
    if pool is None:
        pool = _fast_pools[pid] = ThreadPoolExecutor(FAST_ROUTE_THREADS, thread_name_prefix="certvault-read")
    return pool


def _json(model: BaseModel) -> bytes:
    return type(model).__pydantic_serializer__.to_json(model)


@dataclass
class _Read:
    """What a read on the read-only session produced: an answer or an error, and the audit rows to commit
    before either may be given (a refusal's row too, when its error keeps changes)."""

    key: bytes
    result: BaseModel | None = None
    error: Exception | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> bytes:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return _json(self.result)


class DirectRoutes:
    """ASGI layer in front of FastAPI's middleware stack: a request a `BearerFastRoute` serves goes straight to
    it (an error it raises is answered by the application's exception handler for it, as in FastAPI); every
    other request goes on to the stack."""

    def __init__(self, app: ASGIApp, routes: list[BearerFastRoute], handlers: Handlers) -> None:
        self.app, self.routes, self.handlers = app, routes, handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self.routes:
                params = route.match(scope)
                if params is not None:
                    response = await self._serve(route, scope, receive, params)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _serve(self, route: BearerFastRoute, scope: Scope, receive: Receive, params: dict[str, str]) -> Response:
        client = scope.get("client")
        try:
            body = await route.answer(scope["app"].state.certvault, params.pop(_TOKEN), client[0] if client else None,
                                      params)
        except Exception as exc:
            handler = next((self.handlers[cls] for cls in type(exc).__mro__ if cls in self.handlers), None)
            if handler is None:
                raise
            return await handle(handler, Request(scope, receive), exc)
        return Response(body, media_type="application/json")


_TOKEN = "\0token"  # where `match` hands over the bearer token with the path parameters


class Prefetch:
    """What a direct route reads ahead, for all the reads of one event-loop pass in one statement (passes.py):
    the rows its `work` will need and the auth version (the token check's first read). One round trip per pass
    instead of one per read; on PostgreSQL the loop waits for each.

    `key`: what a request asks for, from its path parameters; `fetch`: the rows for several keys at once (keys
    with nothing are left out); `use`: hands a request's rows to its services and returns their auth version
    (READ_VERSION when there are none). The rows must not decide or reveal anything by themselves: the request
    is authenticated and its access rules run as without them."""

    def __init__(self, key: Callable[[dict[str, str]], Hashable],
                 fetch: Callable[[Connection, list[Any]], dict[Any, Any]],
                 use: Callable[[Services, Any, Any], int | None | object]) -> None:
        self.key, self._fetch, self.use = key, fetch, use
        self._passes: PassBatch[Engine, Any, Any] = PassBatch(self._fetch_pass)

    async def rows(self, engine: Engine, params: dict[str, str]) -> tuple[Any, Any]:
        """The key `params` ask for and the rows read ahead for it in this pass (None when there are none)."""
        key = self.key(params)
        return key, await self._passes.join(engine, key)

    def _fetch_pass(self, _loop: asyncio.AbstractEventLoop, engine: Engine, waiting: Waiting[Any, Any]) -> None:
        try:
            with engine.connect() as conn:
                found = self._fetch(conn, list({key: None for key, _ in waiting}))
        except Exception:  # noqa: BLE001 - each request then reads on its own, and meets the error itself
            found = {}
        settle(waiting, found.get)


class BearerFastRoute:
    """The plain form of one GET operation whose regular route FastAPI serves (and documents in OpenAPI).

    `prefetch` (optional): what to read ahead for the reads of a loop pass, see `Prefetch`."""

    def __init__(
        self,
        path_format: str,
        pattern: str,
        permission: Permission,
        work: Callable[[Services, Actor, dict[str, str]], BaseModel],
        fallback_headers: frozenset[bytes] = frozenset(),
        prefetch: Prefetch | None = None,
    ) -> None:
        self.path_format = path_format
        self._prefix = path_format.partition("{")[0]
        self._pattern = re.compile(pattern)
        self._permission = permission
        self._work = work
        self._fallback_headers = fallback_headers
        self._prefetch = prefetch

    def match(self, scope: Scope) -> dict[str, str] | None:
        """The path parameters and the token if this route serves the request as it is, else None."""
        if (
            scope["method"] != "GET"
            or scope["query_string"]
            or scope.get("root_path")
            or not scope["path"].startswith(self._prefix)
        ):
            return None
        found = self._pattern.fullmatch(scope["path"])
        token = self._bearer(scope) if found is not None else None
        return None if token is None else {**found.groupdict(), _TOKEN: token}  # type: ignore[union-attr]

    def _bearer(self, scope: Scope) -> str | None:
        token = None
        for name, value in scope["headers"]:
            if name == b"authorization" and token is None:
                scheme, _, credentials = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not credentials.strip():
                    return None
                token = credentials.strip()
            elif name in self._fallback_headers:
                return None
        return token

    async def answer(self, app: App, token: str, ip: str | None, params: dict[str, str]) -> bytes:
        """The response body, once the request's audit rows are committed (raises what the route would)."""
        loop = asyncio.get_running_loop()
        try:
            if not app.reads_on_loop:
                raise NeedsTransaction("no read engine")
            ahead = None if self._prefetch is None else await self._prefetch.rows(app.read_engine, params)
            read = self._read(app, token, ip, params, ahead)
        except NeedsTransaction:
            return await loop.run_in_executor(_fast_threads(), self._serve_in_transaction, app, token, ip, params)
        await group_commit(app.engine, read.key).commit(read.rows)
        return read.body()

    def _read(self, app: App, token: str, ip: str | None, params: dict[str, str],
              ahead: tuple[Any, Any] | None = None) -> _Read:
        """The request's steps on a read-only session; raises NeedsTransaction before anything would be written.
        `ahead`: the key and the rows read ahead for it."""
        svc = app.services(read_sessions(app.read_engine)())
        svc.audit.defer()
        read = _Read(svc.audit.key)
        try:
            version = READ_VERSION if ahead is None else self._prefetch.use(svc, *ahead)  # type: ignore[union-attr]
            actor = bearer_actor(svc, token, ip, svc.session, version, may_write=False)
            require_permission(actor, self._permission)
            read.result = self._work(svc, actor, params)
            read.rows = svc.audit.pending or []
        except NeedsTransaction:
            raise
        except Exception as exc:  # noqa: BLE001 - raised by `body()` once the refusal's rows are committed
            read.error = exc
            if getattr(exc, "keep_changes", False):  # a refusal's audit row, as end_transaction would keep it
                read.rows = svc.audit.pending or []
        finally:
            svc.session.close()
        return read

    def _serve_in_transaction(self, app: App, token: str, ip: str | None, params: dict[str, str]) -> bytes:
        with app.transaction() as svc:  # committed (a refusal's audit row too) before anything is sent
            actor = bearer_actor(svc, token, ip)
            require_permission(actor, self._permission)
            result = self._work(svc, actor, params)
        return _json(result)

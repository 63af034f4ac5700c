"""Direct routes for the reads API clients repeat (an integration fetching a secret per job).

FastAPI's dependency solving, validation and worker-thread trips cost more CPU than such a read itself. A
`BearerFastRoute` serves the plain form of one request (bearer token, canonical path, no query string, none of
`fallback_headers`) with the same steps as the regular route: `bearer_actor` (token, account, IP allow-list,
lockout), the role permission, the endpoint's service call, and the commit of its audit row before anything
is sent. Anything else (cookies, query parameters, odd ids, other methods) does not match and falls through to
the regular FastAPI route, which also documents the operation in OpenAPI. Errors propagate to the
application's exception handlers like any route's.

How a read runs:
- on a read-only session (no write transaction: on SQLite no writer lock, on PostgreSQL no head-row lock), its
  audit rows collected and then group-committed (audit/group.py) with those of concurrent requests;
- on SQLite, on the event loop itself: its statements read WAL pages from memory in microseconds, less than a
  trip to a thread and back costs, and no thread convoy forms on the GIL; the request then awaits its group's
  commit without holding anything. On PostgreSQL (network round trips) in one of a few threads;
- work that would write (check-out, approval, DoubleLock, a token's use to record, any flush) raises
  NeedsTransaction before writing and is redone in a thread in a regular transaction.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.datastructures import URLPath
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from certvault.api.deps import bearer_actor
from certvault.audit.group import group_commit
from certvault.auth.credentials import READ_VERSION
from certvault.auth.rbac import Actor, Permission
from certvault.auth.rbac import require as require_permission
from certvault.container import App, Services
from certvault.db.engine import is_sqlite
from certvault.db.session import NeedsTransaction, end_transaction, read_sessions

# Threads per process for what does not run on the event loop. Few on purpose: requests beyond these wait in
# the queue on the event loop instead of as threads holding database connections. Forty threads (anyio's
# default) mostly convoyed on the GIL, SQLite's writer lock and PostgreSQL's audit-head row lock; measured at
# 32 connections, 4 served the most reads with the lowest p99 (PostgreSQL: 40 threads p99 385 ms, 4: 115 ms).
FAST_ROUTE_THREADS = 4
_fast_pools: dict[int, ThreadPoolExecutor] = {}


def _fast_threads() -> ThreadPoolExecutor:
    pid = os.getpid()  # `serve --workers N` forks: each process starts its own threads
    pool = _fast_pools.get(pid)
    if pool is None:
        pool = _fast_pools[pid] = ThreadPoolExecutor(FAST_ROUTE_THREADS, thread_name_prefix="certvault-read")
    return pool


def _reads_on_loop(app: App) -> bool:
    """SQLite with a separate read engine (a private in-memory database has none: its reads would take the
    writer lock)."""
    return is_sqlite(app.read_engine) and app.read_engine is not app.engine


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
        return type(self.result).__pydantic_serializer__.to_json(self.result)


class BearerFastRoute(BaseRoute):
    """`prefetch` (optional) runs first on the read-only session: it may read what `work` will need in the same
    statement as the auth version and return that version (or READ_VERSION), saving a statement; it must not
    decide or reveal anything."""

    def __init__(
        self,
        path_format: str,
        pattern: str,
        permission: Permission,
        work: Callable[[Services, Actor, dict[str, str]], BaseModel],
        fallback_headers: frozenset[bytes] = frozenset(),
        prefetch: Callable[[Services, dict[str, str]], int | None | object] | None = None,
    ) -> None:
        self.path_format = path_format
        self._prefix = path_format.partition("{")[0]
        self._pattern = re.compile(pattern)
        self._permission = permission
        self._work = work
        self._fallback_headers = fallback_headers
        self._prefetch = prefetch

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["query_string"]
            or scope.get("root_path")
            or not scope["path"].startswith(self._prefix)
        ):
            return Match.NONE, {}
        found = self._pattern.fullmatch(scope["path"])
        if found is None or self._bearer(scope) is None:
            return Match.NONE, {}
        return Match.FULL, {"path_params": found.groupdict()}

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

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = self._bearer(scope)
        assert token is not None  # matches() checked
        client = scope.get("client")
        body = await self.answer(scope["app"].state.certvault, token, client[0] if client else None,
                                 scope["path_params"])
        await Response(body, media_type="application/json")(scope, receive, send)

    async def answer(self, app: App, token: str, ip: str | None, params: dict[str, str]) -> bytes:
        """The response body, once the request's audit rows are committed (raises what the route would)."""
        loop = asyncio.get_running_loop()
        if not _reads_on_loop(app):
            return await loop.run_in_executor(_fast_threads(), self._serve, app, token, ip, params)
        try:
            read = self._read(app, token, ip, params, may_write=False)
        except NeedsTransaction:
            return await loop.run_in_executor(_fast_threads(), self._serve_in_transaction, app, token, ip, params)
        await group_commit(app.engine, read.key).commit_async(read.rows)
        return read.body()

    def _serve(self, app: App, token: str, ip: str | None, params: dict[str, str]) -> bytes:
        """`answer` in a worker thread."""
        try:
            read = self._read(app, token, ip, params, may_write=True)
        except NeedsTransaction:
            return self._serve_in_transaction(app, token, ip, params)
        group_commit(app.engine, read.key).commit(read.rows)
        return read.body()

    def _read(self, app: App, token: str, ip: str | None, params: dict[str, str], *, may_write: bool) -> _Read:
        """The request's steps on a read-only session; raises NeedsTransaction before anything would be written."""
        svc = app.services(read_sessions(app.read_engine)())
        svc.audit.defer()
        read = _Read(svc.audit.key)
        try:
            version = self._prefetch(svc, params) if self._prefetch is not None else READ_VERSION
            actor = bearer_actor(svc, token, ip, svc.session.connection(), version, may_write=may_write)
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
        svc = app.services(app.sessions())
        try:
            try:
                actor = bearer_actor(svc, token, ip)
                require_permission(actor, self._permission)
                result = self._work(svc, actor, params)
            except BaseException as exc:
                if svc.session.in_transaction():
                    end_transaction(svc.session, exc)
                raise
            if svc.session.in_transaction():
                end_transaction(svc.session, None)  # the audit row is committed before anything is sent
        finally:
            svc.session.close()
        return type(result).__pydantic_serializer__.to_json(result)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)

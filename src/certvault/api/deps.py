"""Request-scoped dependencies: one transaction per request, authentication, permission gates.

Every route declares `require(Permission.X)`, `authenticated` or is listed in PUBLIC_PATHS; a test
walks the OpenAPI routes to prove it.

How a request meets the database (each sync step is a trip to a worker thread and back through the
event loop, which under load waits behind every other connection's work):
- `services` opens nothing: the session starts its transaction at the first statement, and
  ends it as the endpoint returns, before the response is sent (the session closes after).
- `authenticated` looks the credential up on a short read-only connection (cached per process,
  see auth/credentials.py), so no write transaction (on SQLite: the write lock) is open while the
  request travels from the authentication thread to the endpoint's.
- A sync endpoint commits in its own thread as it returns (`transactional_routes`): the write lock is
  held for the endpoint's work only, not across another trip through a busy event loop.
- Whatever is still open then (async endpoints, web pages) is committed or rolled back when
  `services` exits, with the same keep_changes rule as `App.transaction()`.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import inspect
import os
import re
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URLPath
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from certvault.audit.group import commit_audit_rows
from certvault.auth.credentials import READ_VERSION, Credential
from certvault.auth.rbac import Actor, Permission
from certvault.auth.rbac import require as require_permission
from certvault.container import App, Services
from certvault.db.session import NeedsTransaction, end_transaction, read_sessions
from certvault.errors import Forbidden, Unauthenticated

SESSION_COOKIE = "cv_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_app(request: Request) -> App:
    return request.app.state.certvault  # type: ignore[no-any-return]


async def _request_session(request: Request) -> AsyncIterator[Services]:
    """The request's Services and session, closed once the response has been sent."""
    app = get_app(request)
    svc = app.services(app.sessions())  # no connection yet: nothing to do in a thread
    try:
        yield svc
    except BaseException as exc:
        await _end(request, svc, exc, close=True)
        raise
    await _end(request, svc, None, close=True)  # e.g. what a lazy load began while serialising


async def services(request: Request, svc: Annotated[Services, Depends(_request_session)]) -> AsyncIterator[Services]:
    """One transaction per request, ended as the endpoint returns: before the response is sent,
    so a client that gets an answer and asks again always sees what the first request wrote."""
    try:
        yield svc
    except BaseException as exc:
        await _end(request, svc, exc, close=False)
        raise
    await _end(request, svc, None, close=False)


async def _end(request: Request, svc: Services, exc: BaseException | None, *, close: bool) -> None:
    if not svc.session.in_transaction():
        if close:
            svc.session.close()  # holds no connection: cheap, no I/O
        return
    # Threads of their own: the transaction may hold SQLite's write lock, and every thread of the
    # shared pool may be an endpoint waiting for that lock; waiting among them could never end.
    limiter = getattr(request.app.state, "transaction_enders", None)
    if limiter is None:
        limiter = request.app.state.transaction_enders = anyio.CapacityLimiter(8)
    await anyio.to_thread.run_sync(_end_transaction, svc, exc, close, limiter=limiter)


def _end_transaction(svc: Services, exc: BaseException | None, close: bool) -> None:
    try:
        end_transaction(svc.session, exc)
    finally:
        if close:
            svc.session.close()


ServicesDep = Annotated[Services, Depends(services, scope="function")]

# Beyond any real list; keeps the number inside the database's integer range (clear 422, no overflow).
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="rows to skip")]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def authenticated(request: Request, svc: ServicesDep) -> Actor:
    """Bearer token (API clients) or session cookie + CSRF header (the browser)."""
    ip = client_ip(request)
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        actor = await run_in_threadpool(bearer_actor, svc, credentials.strip(), ip)
    elif cookie := request.cookies.get(SESSION_COOKIE):
        actor, found = await run_in_threadpool(session_actor, svc, cookie, ip)
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent, found.csrf_token or ""):
                raise Forbidden("missing or wrong CSRF token (send the X-CSRF-Token header)")
    else:
        raise Unauthenticated("authentication required: send a bearer token or log in")
    request.state.actor = actor
    return actor


def bearer_actor(svc: Services, token: str, ip: str | None, reading: Connection | None = None,
                 auth_version: int | None | object = READ_VERSION) -> Actor:
    """Look the token up outside the request's transaction.

    What admission writes (a refused address's audit row, a token's use once a minute) commits in
    its own short transaction here, in this thread: a write transaction left open for the endpoint
    would hold SQLite's write lock while the request waits for the event loop and a thread.
    `reading`: a connection of the read engine the caller already holds (the direct route's read-only
    session), used instead of checking out another one; `auth_version`: the auth version read on it in the
    request's first statement (see `BearerFastRoute` `prefetch`).
    """
    if reading is not None:
        key, found = svc.auth.credentials.token(reading, token, auth_version)
    else:
        with svc.app.reading() as conn:
            key, found = svc.auth.credentials.token(conn, token)
    if svc.auth.admission_writes(found, ip):
        with svc.app.transaction() as own:
            return own.auth.admit_token(key, found, ip)
    return svc.auth.admit_token(key, found, ip)


def session_actor(svc: Services, cookie: str, ip: str | None) -> tuple[Actor, Credential]:
    with svc.app.reading() as conn:
        _key, found = svc.auth.credentials.session(conn, cookie)
    if svc.auth.admission_writes(found, ip):
        with svc.app.transaction() as own:
            return own.auth.admit_session(found, ip)
    return svc.auth.admit_session(found, ip)


CurrentActor = Annotated[Actor, Depends(authenticated)]


class _PermissionGate:
    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, actor: CurrentActor) -> Actor:  # async: a role check needs no thread
        require_permission(actor, self.permission)
        return actor


def require(permission: Permission) -> Callable[..., Actor]:
    """A dependency that authenticates and checks one role permission."""
    return _PermissionGate(permission)  # type: ignore[return-value]


# ---- committing in the endpoint's thread ------------------------------------------------------
def transactional_routes(router: APIRouter) -> APIRouter:
    """Run each sync endpoint of `router` and the commit of its request's transaction in one worker-thread trip.

    Call before the router is included. The endpoint becomes a coroutine that runs the original in
    a worker thread and commits (or rolls back) there as it returns, so the transaction, and on
    SQLite the write lock, never waits for another trip through a busy event loop; FastAPI then
    also validates the response inline instead of in one more thread trip. Correctness never
    depends on it: `services` ends whatever is still open.
    """
    for route in router.routes:
        if (
            isinstance(route, APIRoute)
            and not inspect.iscoroutinefunction(route.endpoint)
            and not getattr(route.endpoint, "_commits_in_thread", False)
        ):
            route.endpoint = _committing(route.endpoint)
    return router


def _committing(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    def call_and_commit(kwargs: dict[str, Any]) -> Any:
        svc = next((value for value in kwargs.values() if isinstance(value, Services)), None)
        try:
            result = endpoint(**kwargs)
        except BaseException as exc:
            if svc is not None and svc.session.in_transaction():
                end_transaction(svc.session, exc)
            raise
        if svc is not None and svc.session.in_transaction():
            end_transaction(svc.session, None)
        return result

    @functools.wraps(endpoint)
    async def run(**kwargs: Any) -> Any:
        return await run_in_threadpool(call_and_commit, kwargs)

    run._commits_in_thread = True  # type: ignore[attr-defined]
    return run


# ---- hot read routes without FastAPI's per-request machinery ---------------------------------
# Threads that serve them, per process. Few on purpose: requests beyond these wait in the queue on the
# event loop instead of as threads holding database connections. Forty threads (anyio's default) mostly
# convoyed on the GIL, SQLite's writer lock and PostgreSQL's audit-head row lock. Measured at 32
# connections (SQLite: 1, 2, 4, 16, 40 threads; PostgreSQL: 2, 4, 6, 10, 40), 4 served the most reads
# with the lowest p99; on PostgreSQL, 40 threads had a p99 of 385 ms, 4 threads 115 ms.
FAST_ROUTE_THREADS = 4
_fast_pools: dict[int, ThreadPoolExecutor] = {}


def _fast_threads() -> ThreadPoolExecutor:
    pid = os.getpid()  # `serve --workers N` forks: each process starts its own threads
    pool = _fast_pools.get(pid)
    if pool is None:
        pool = _fast_pools[pid] = ThreadPoolExecutor(FAST_ROUTE_THREADS, thread_name_prefix="certvault-read")
    return pool


class BearerFastRoute(BaseRoute):
    """A GET route for API clients that read in a loop (integrations fetching a secret per job).

    FastAPI's dependency solving, validation and two worker-thread trips (authentication, then the
    endpoint) cost more CPU on the event loop than the read itself. This route serves the plain form
    of one request (bearer token, canonical path, no query string, none of `fallback_headers`) with
    the same steps in one trip: `bearer_actor` (token, account, IP allow-list, lockout), the role
    permission, the endpoint's service call and the commit of its audit row, all before the response
    is sent. Anything else (cookies, query parameters, odd ids, other methods) does not match and
    falls through to the regular FastAPI route, which also documents the operation in OpenAPI.
    Errors propagate to the application's exception handlers like any route's. `prefetch` (optional) runs
    first on the read-only session: it may read what `work` will need in the same statement as the auth
    version and return that version (or READ_VERSION), saving a statement; it must not decide or reveal anything.
    """

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
        app: App = scope["app"].state.certvault
        ip = client[0] if client else None
        loop = asyncio.get_running_loop()
        body = await loop.run_in_executor(_fast_threads(), self._serve, app, token, ip, scope["path_params"])
        await Response(body, media_type="application/json")(scope, receive, send)

    def _serve(self, app: App, token: str, ip: str | None, params: dict[str, str]) -> bytes:
        try:
            return self._serve_reading(app, token, ip, params)
        except NeedsTransaction:
            return self._serve_in_transaction(app, token, ip, params)

    def _serve_reading(self, app: App, token: str, ip: str | None, params: dict[str, str]) -> bytes:
        """The same steps on a read-only session, the audit rows group-committed (audit/group.py).

        No write transaction is open while the request reads: on SQLite no writer lock, on PostgreSQL no
        head-row lock, and the rows of concurrent requests share one commit. The answer is built only after
        this request's rows are committed in the chain; if they are not, the request fails with nothing
        read in it. Work that would write (check-out, approval, DoubleLock, or any flush) raises
        NeedsTransaction before writing and is redone by `_serve_in_transaction`.
        """
        svc = app.services(read_sessions(app.read_engine)())
        svc.audit.defer()
        try:
            try:
                version = self._prefetch(svc, params) if self._prefetch is not None else READ_VERSION
                actor = bearer_actor(svc, token, ip, svc.session.connection(), version)  # read engine, autocommit
                require_permission(actor, self._permission)
                result = self._work(svc, actor, params)
            except NeedsTransaction:
                raise
            except BaseException as exc:
                kept = svc.audit.pending if getattr(exc, "keep_changes", False) else None
                svc.session.close()
                if kept:  # a refusal's audit row, as end_transaction would keep it
                    commit_audit_rows(app.engine, svc.audit.key, kept)
                raise
            svc.session.close()
            commit_audit_rows(app.engine, svc.audit.key, svc.audit.pending or [])  # before anything is sent
        finally:
            svc.session.close()
        return type(result).__pydantic_serializer__.to_json(result)

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

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

import functools
import hmac
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from certvault.auth.credentials import READ_VERSION, Bind, Credential
from certvault.auth.rbac import Actor, Permission
from certvault.auth.rbac import require as require_permission
from certvault.container import App, NeedsTransaction, Services, end_transaction
from certvault.errors import Forbidden, Unauthenticated

SESSION_COOKIE = "cv_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_app(request: Request) -> App:
    return request.app.state.certvault


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
# Lists that page by cursor: a short offset still works, deeper pages follow next_cursor.
ShortOffset = Annotated[int, Query(ge=0, le=1_000, description="rows to skip (at most 1,000; then use cursor)")]
Cursor = Annotated[str | None, Query(max_length=1024, description="next_cursor or prev_cursor of a page")]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def authenticated(request: Request, svc: ServicesDep) -> Actor:
    """Bearer token (API clients) or session cookie + CSRF header (the browser).

    An account whose password must change is refused here (403), whatever the route: only the routes that
    take `PasswordChangeActor` (change my password, log out) admit it."""
    return await _authenticate(request, svc, pending_ok=False)


async def authenticated_for_password_change(request: Request, svc: ServicesDep) -> Actor:
    """As `authenticated`, but also admits an account whose password must change."""
    return await _authenticate(request, svc, pending_ok=True)


async def _authenticate(request: Request, svc: Services, *, pending_ok: bool) -> Actor:
    ip = client_ip(request)
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        actor = await run_in_threadpool(bearer_actor, svc, credentials.strip(), ip, pending_ok=pending_ok)
    elif cookie := request.cookies.get(SESSION_COOKIE):
        actor, found = await run_in_threadpool(session_actor, svc, cookie, ip, pending_ok=pending_ok)
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent, found.csrf_token or ""):
                raise Forbidden("missing or wrong CSRF token (send the X-CSRF-Token header)")
    else:
        raise Unauthenticated("authentication required: send a bearer token or log in")
    request.state.actor = actor
    return actor


def presented_credential(request: Request) -> str | None:
    """The bearer token or session cookie this request authenticated with (as `authenticated` picks it)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials.strip()
    return request.cookies.get(SESSION_COOKIE)


def bearer_actor(svc: Services, token: str, ip: str | None, reading: Bind | None = None,
                 auth_version: int | None | object = READ_VERSION, *, may_write: bool = True,
                 pending_ok: bool = False) -> Actor:
    """Look the token up outside the request's transaction.

    What admission writes (a refused address's audit row, a token's use once a minute) commits in
    its own short transaction here, in this thread: a write transaction left open for the endpoint
    would hold SQLite's write lock while the request waits for the event loop and a thread.
    `reading`: the read-only session (or a read connection) the caller already has (the direct route's),
    used instead of checking out another connection; `auth_version`: the auth version the caller read with
    its first statement (see api/fast.py, `Prefetch`); `may_write=False`: raise NeedsTransaction
    instead of writing (the caller is on the event loop and redoes the request in a thread); `pending_ok`:
    admit an account whose password must change (AuthService.admit_token).
    """
    if reading is not None:
        key, found = svc.auth.credentials.token(reading, token, auth_version)
    else:
        with svc.app.reading() as conn:
            key, found = svc.auth.credentials.token(conn, token)
    if svc.auth.admission_writes(found, ip):
        if not may_write:
            raise NeedsTransaction("admitting this token writes")
        with svc.app.transaction() as own:
            return own.auth.admit_token(key, found, ip, pending_ok=pending_ok)
    return svc.auth.admit_token(key, found, ip, pending_ok=pending_ok)


def session_actor(svc: Services, cookie: str, ip: str | None, *, pending_ok: bool = False) -> tuple[Actor, Credential]:
    with svc.app.reading() as conn:
        _key, found = svc.auth.credentials.session(conn, cookie)
    if svc.auth.admission_writes(found, ip):
        with svc.app.transaction() as own:
            return own.auth.admit_session(found, ip, pending_ok=pending_ok)
    return svc.auth.admit_session(found, ip, pending_ok=pending_ok)


CurrentActor = Annotated[Actor, Depends(authenticated)]
PasswordChangeActor = Annotated[Actor, Depends(authenticated_for_password_change)]


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
        if isinstance(route, APIRoute) and not inspect.iscoroutinefunction(route.endpoint) \
                and not getattr(route.endpoint, "_commits_in_thread", False):
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

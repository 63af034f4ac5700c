"""The FastAPI application: error mapping, route modules, the web UI, lifespan (embedded worker)."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.types import ASGIApp

from certvault import __version__
from certvault.api.deps import transactional_routes
from certvault.api.fast import BearerFastRoute, DirectRoutes
from certvault.api.limits import BodyLimit, Limits
from certvault.container import App, declare_every_model
from certvault.errors import CertvaultError
from certvault.security_headers import SecurityHeaders

log = logging.getLogger("certvault.api")

# Order is matching order, and matching walks routes one by one (~4 us each): the routes an
# integration calls per request (health, secret reads) go first. No two modules share a path prefix.
ROUTE_MODULES = (
    "certvault.api.routes.system",
    "certvault.api.routes.vault",
    "certvault.api.routes.secretserver",
    "certvault.api.routes.vault_kv",
    "certvault.api.routes.auth",
    "certvault.api.routes.audit",
    "certvault.api.routes.ca",
    "certvault.api.routes.certificates",
    "certvault.api.routes.acme",
    "certvault.api.routes.scans",
    "certvault.api.routes.notifications",
    "certvault.api.routes.integrations",
    "certvault.api.routes.tickets",
    "certvault.api.routes.agents",
    "certvault.api.routes.deploy",
)

# Reachable without credentials. Everything else needs a token or a session.
PUBLIC_PATHS = frozenset({
    "/api/v1/health",
    "/api/v1/auth/login",
    "/api/openapi.json",
    "/api/v1/ca/root.pem",
    "/secretserver/oauth2/token",
    "/secretserver/api/v1/healthcheck",
    "/api/v1/agent/enroll",  # authenticated by its one-time enrolment token
    "/api/v1/agent/package",  # the agent package, public like the CA root
})


def problem(status: int, code: str, detail: str, title: str | None = None, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem document; `extra`: members of its own (the per-file results of an import)."""
    headers = {"WWW-Authenticate": 'Bearer realm="certvault"'} if status == 401 else None
    return JSONResponse(
        {"type": f"urn:certvault:error:{code}", "title": title or code.replace("_", " "), "status": status,
         "detail": detail, "code": code, **extra},
        status_code=status, media_type="application/problem+json", headers=headers,
    )


class CertvaultAPI(FastAPI):
    """FastAPI with certvault's outer layers: security headers on every answer (errors included), the request
    body limits (api/limits.py), then the direct routes (api/fast.py) in front of FastAPI's middleware and
    routing."""

    direct_routes: list[BearerFastRoute]

    def build_middleware_stack(self) -> ASGIApp:
        server = self.state.certvault.settings.server
        limits = Limits.of(server.max_body_bytes, server.max_upload_bytes, self.routes)
        return SecurityHeaders(BodyLimit(DirectRoutes(super().build_middleware_stack(), self.direct_routes,
                                                      self.exception_handlers), limits, self.exception_handlers))


def create_api(app: App, *, embedded_worker: bool = False) -> CertvaultAPI:
    declare_every_model()  # requests run in threads: no model module may first load while another queries
    @asynccontextmanager
    async def lifespan(_api: FastAPI) -> AsyncIterator[None]:
        worker = None
        if embedded_worker:
            worker = app.worker()
            worker.start_background()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()

    api = CertvaultAPI(
        title="certvault", version=__version__, openapi_url="/api/openapi.json", docs_url="/api/docs",
        redoc_url=None, lifespan=lifespan,
    )
    api.state.certvault = app

    @api.exception_handler(CertvaultError)
    async def _certvault_error(_request: Request, exc: CertvaultError) -> JSONResponse:
        return problem(exc.status_code, exc.code, exc.message)

    @api.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first: dict[str, Any] = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return problem(422, "invalid_request", f"{where}: {first.get('msg')}" if where else first["msg"])

    @api.exception_handler(IntegrityError)
    async def _conflict(_request: Request, _exc: IntegrityError) -> JSONResponse:
        # A race or a case the service did not check: the transaction was rolled back, nothing changed.
        return problem(409, "conflict", "the change conflicts with stored data (a duplicate or a missing reference)")

    @api.exception_handler(DataError)
    async def _out_of_range(_request: Request, _exc: DataError) -> JSONResponse:
        return problem(400, "invalid_request", "a value is out of range for its field")

    api.direct_routes = []
    for name in ROUTE_MODULES:
        module = importlib.import_module(name)
        api.include_router(transactional_routes(module.router))
        api.direct_routes.extend(getattr(module, "FAST_ROUTES", ()))
    return api

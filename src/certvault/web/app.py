"""Mount the web UI on the FastAPI application."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from certvault.api.app import problem
from certvault.container import App
from certvault.errors import CertvaultError
from certvault.web import errors
from certvault.web.deps import LoginRequired, login_redirect_target
from certvault.web.filters import install_filters

log = logging.getLogger("certvault.web")
HERE = Path(__file__).parent
WEB_MODULES = (
    "certvault.web.routes.session",
    "certvault.web.routes.dashboard",
    "certvault.web.routes.admin",
    "certvault.web.routes.users",
    "certvault.web.routes.account",
    "certvault.web.routes.settings",
    "certvault.web.routes.ca",
    "certvault.web.routes.certificates",
    "certvault.web.routes.acme",
    "certvault.web.routes.acme_dns",
    "certvault.web.routes.scans",
    "certvault.web.routes.vault",
    "certvault.web.routes.integrations",
    "certvault.web.routes.tickets",
    "certvault.web.routes.notifications",
    "certvault.web.routes.deploy",
    "certvault.web.routes.agents",
)

templates = Jinja2Templates(directory=str(HERE / "templates"))
install_filters(templates.env)


def mount_web(api: FastAPI, app: App) -> None:
    api.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for name in WEB_MODULES:
        api.include_router(importlib.import_module(name).router)

    @api.exception_handler(LoginRequired)
    async def _login_required(_request: Request, exc: LoginRequired) -> Response:
        target = exc.next_url if exc.direct else login_redirect_target(exc.next_url)
        return RedirectResponse(target, status_code=303)

    previous: Any = api.exception_handlers.get(CertvaultError)
    previous_invalid: Any = api.exception_handlers.get(RequestValidationError)

    @api.exception_handler(CertvaultError)
    async def _error_page(request: Request, exc: CertvaultError) -> Response:
        if _wants_html(request):
            return error_page(request, exc.status_code, exc.message)
        return await previous(request, exc)

    @api.exception_handler(RequestValidationError)
    async def _invalid_page(request: Request, exc: RequestValidationError) -> Response:
        if not _wants_html(request):
            return await previous_invalid(request, exc)
        if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()):  # a malformed id: no such page
            return error_page(request, 404, "Nothing is stored under this address (its id is malformed).")
        return error_page(request, 422, "The form was not complete or not valid:", errors.problems(exc.errors()))

    @api.exception_handler(StarletteHTTPException)
    async def _http_page(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_html(request):
            message = "There is no page at this address." if exc.status_code == 404 else str(exc.detail)
            return error_page(request, exc.status_code, message, headers=exc.headers)
        return await http_exception_handler(request, exc)

    @api.exception_handler(Exception)
    async def _crash_page(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        if _wants_html(request):
            return error_page(request, 500, "Something went wrong on the server; it is logged. Try again, or tell "
                                            "your administrator the time it happened.")
        return problem(500, "internal_error", "internal server error")


def error_page(request: Request, status: int, message: str, problems: list[str] | None = None,
               headers: Mapping[str, str] | None = None) -> Response:
    user = getattr(request.state, "web_user", None)
    return templates.TemplateResponse(
        request, "error.html",
        {"user": user, "csrf_token": user.csrf_token if user else "", "status": status,
         "heading": errors.HEADINGS.get(status, "Error"), "message": message, "problems": problems or []},
        status_code=status, headers=dict(headers) if headers else None,
    )


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/v1/", "/secretserver/", "/metrics")) and (
        "text/html" in request.headers.get("accept", "")
    )


__all__ = ["HTMLResponse", "mount_web", "templates"]

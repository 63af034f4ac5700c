"""Mount the web UI on the FastAPI application."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from certvault.container import App
from certvault.errors import CertvaultError
from certvault.web.deps import LoginRequired, login_redirect_target
from certvault.web.filters import install_filters

HERE = Path(__file__).parent
WEB_MODULES = (
    "certvault.web.routes.session",
    "certvault.web.routes.dashboard",
    "certvault.web.routes.admin",
    "certvault.web.routes.certificates",
    "certvault.web.routes.acme",
    "certvault.web.routes.scans",
    "certvault.web.routes.vault",
    "certvault.web.routes.integrations",
)

templates = Jinja2Templates(directory=str(HERE / "templates"))
install_filters(templates.env)


def mount_web(api: FastAPI, app: App) -> None:
    api.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for name in WEB_MODULES:
        api.include_router(importlib.import_module(name).router)

    @api.exception_handler(LoginRequired)
    async def _login_required(_request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(login_redirect_target(exc.next_url), status_code=303)

    previous: Any = api.exception_handlers.get(CertvaultError)

    @api.exception_handler(CertvaultError)
    async def _error_page(request: Request, exc: CertvaultError) -> Response:
        if _wants_html(request):
            return templates.TemplateResponse(
                request, "error.html", {"user": None, "error": exc, "csrf_token": ""},
                status_code=exc.status_code,
            )
        return await previous(request, exc)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/v1/", "/secretserver/", "/metrics")) and (
        "text/html" in request.headers.get("accept", "")
    )


__all__ = ["HTMLResponse", "mount_web", "templates"]

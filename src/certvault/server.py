"""The ASGI application served by `certvault serve`: the REST API plus the web UI."""

from __future__ import annotations

from fastapi import FastAPI

from certvault.api.app import create_api
from certvault.container import App
from certvault.web.app import mount_web


def create_server(app: App, *, embedded_worker: bool = False) -> FastAPI:
    api = create_api(app, embedded_worker=embedded_worker)
    mount_web(api, app)
    return api

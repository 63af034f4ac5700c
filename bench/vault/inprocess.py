"""Where a read's time goes, measured inside one process against the benchmark's own database.

- `work`: what the API does for a read minus HTTP, in one write transaction (the regular route): token
  lookup (cached, on the read-only connection), permission check, unsealing, audit append, commit.
- `direct`: the direct route's work (`BearerFastRoute.answer`, on an event loop): the same on a read-only
  session, the audit row group-committed (audit/group.py; one request at a time here, so groups of one), the
  JSON body.
- `asgi_read` / `asgi_health`: the same request through the whole ASGI application (routing,
  dependencies, validation, JSON) called directly, without sockets or TLS.
Over HTTPS, what remains is uvicorn, TLS and the trips between the event loop and worker threads.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from certvault.api.deps import bearer_actor
from certvault.api.fast import BearerFastRoute
from certvault.api.routes.vault import FAST_ROUTES
from certvault.config import load_settings
from certvault.container import App, build_app
from certvault.db.session import end_transaction
from certvault.server import create_server


def open_app(data_dir: Path, env: dict[str, str]) -> App:
    settings = load_settings(environ={**os.environ, **env}, overrides={"data_dir": str(data_dir)})
    return build_app(settings, run_migrations=False)


def breakdown(app: App, secret_id: str, token: str, rounds: int = 400) -> dict[str, float]:
    """Milliseconds per request for each layer (sequential, after a warm-up)."""
    sid = uuid.UUID(secret_id)

    def work() -> None:
        svc = app.services(app.sessions())
        try:
            actor = bearer_actor(svc, token, "127.0.0.1")
            svc.vault.reader.read(actor, sid)
            end_transaction(svc.session, None)
        finally:
            svc.session.close()

    figures = {"work": _per_call(work, rounds)}
    figures.update(asyncio.run(_on_loop(app, secret_id, token, rounds)))
    return figures


def _per_call(call: Callable[[], None], rounds: int) -> float:
    for _ in range(rounds // 4):
        call()
    began = time.perf_counter()
    for _ in range(rounds):
        call()
    return (time.perf_counter() - began) / rounds * 1000


async def _on_loop(app: App, secret_id: str, token: str, rounds: int) -> dict[str, float]:
    route = next(r for r in FAST_ROUTES if isinstance(r, BearerFastRoute))
    for _ in range(rounds // 4):
        await route.answer(app, token, "127.0.0.1", {"secret_id": secret_id})
    began = time.perf_counter()
    for _ in range(rounds):
        await route.answer(app, token, "127.0.0.1", {"secret_id": secret_id})
    figures = {"direct": (time.perf_counter() - began) / rounds * 1000}
    api = create_server(app)
    async with api.router.lifespan_context(api):
        for name, path, bearer in (("asgi_health", "/api/v1/health", None),
                                   ("asgi_read", f"/api/v1/vault/secrets/{secret_id}/values", token)):
            for _ in range(rounds // 4):
                await _request(api, path, bearer)
            began = time.perf_counter()
            for _ in range(rounds):
                await _request(api, path, bearer)
            figures[name] = (time.perf_counter() - began) / rounds * 1000
    return figures


async def _request(api: Any, path: str, token: str | None) -> None:
    headers = [(b"host", b"127.0.0.1")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "https",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8443), "state": {}}
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await api(scope, receive, send)
    if status != [200]:
        raise RuntimeError(f"GET {path} answered {status}")

"""Request bodies past the limit are refused (413) before anything parses or stores them, on every route.

The attack (issue 11, item 1): an anonymous login with a username of millions of characters was parsed,
compared and written whole into the audit log. Now the body is refused before parsing, and nothing is
recorded.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from certvault.api.limits import BodyLimit, Limits
from certvault.container import App, build_app
from certvault.errors import TooLarge
from tests.conftest import Login, api_client, create_login, make_settings

DEFAULT_LIMIT = 1024 * 1024
HUGE = 3 * 1024 * 1024  # above the default limit


def _audit_total(client: TestClient, admin: Login) -> int:
    return int(client.get("/api/v1/audit", params={"limit": 1}, headers=admin.headers).json()["total"])


def _assert_refused(response: Any, limit: int, setting: str) -> None:
    assert response.status_code == 413, response.text[:300]
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "too_large" and problem["status"] == 413
    assert f"{limit:,} bytes" in problem["detail"] and setting in problem["detail"]


def test_huge_anonymous_logins_are_refused_before_parsing_and_leave_no_audit_row(app: App,
                                                                                 client: TestClient) -> None:
    admin = create_login(app, "administrator")
    before = _audit_total(client, admin)
    name = "u" * HUGE
    answers = [
        client.post("/api/v1/auth/login", json={"username": name, "password": "x"}),
        client.post("/login", data={"username": name, "password": "x"}),
        client.post("/secretserver/oauth2/token", data={"grant_type": "password", "username": name,
                                                        "password": "x"}),
    ]
    for answer in answers:
        _assert_refused(answer, DEFAULT_LIMIT, "server.max_body_bytes")
        assert answer.headers["connection"] == "close"  # the rest of the upload is not read
        assert answer.headers["x-content-type-options"] == "nosniff"  # still behind the security headers
    assert _audit_total(client, admin) == before


def test_a_chunked_body_without_content_length_is_counted(sqlite_app: App, sqlite_client: TestClient) -> None:
    admin = create_login(sqlite_app, "administrator")
    before = _audit_total(sqlite_client, admin)

    def chunks() -> Iterator[bytes]:
        yield b'{"username": "'
        for _ in range(HUGE // 65536):
            yield b"u" * 65536
        yield b'", "password": "x"}'

    answer = sqlite_client.post("/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in answer.request.headers
    _assert_refused(answer, DEFAULT_LIMIT, "server.max_body_bytes")
    assert _audit_total(sqlite_client, admin) == before


def test_a_browser_gets_an_error_page(sqlite_client: TestClient) -> None:
    answer = sqlite_client.post("/login", data={"username": "u" * HUGE, "password": "x"},
                                headers={"accept": "text/html"})
    assert answer.status_code == 413 and answer.headers["content-type"].startswith("text/html")
    assert "1,048,576 bytes" in answer.text


# ---- the limits are settings; upload routes take the larger one --------------------------------------------
SMALL, UPLOAD = 4096, 64 * 1024


@pytest.fixture
def small_limits(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[App, TestClient]]:
    data = tmp_path / "data"
    shutil.copytree(sqlite_template, data)
    application = build_app(make_settings(data, server={"max_body_bytes": SMALL, "max_upload_bytes": UPLOAD}),
                            run_migrations=False)
    with api_client(application) as client:
        yield application, client
    application.close()


def test_the_limits_come_from_the_environment() -> None:
    from certvault.config import load_settings

    settings = load_settings(environ={"CERTVAULT_SERVER_MAX_BODY_BYTES": "2048",
                                      "CERTVAULT_SERVER_MAX_UPLOAD_BYTES": "1048576"})
    assert (settings.server.max_body_bytes, settings.server.max_upload_bytes) == (2048, 1024 * 1024)


def test_upload_routes_take_the_upload_limit_and_no_more(small_limits: tuple[App, TestClient]) -> None:
    application, client = small_limits
    operator = create_login(application, "operator")
    between = [("files", ("big.pem", b"x" * (SMALL * 4), "application/x-pem-file"))]
    imported = client.post("/api/v1/certificates/import", files=between, headers=operator.headers)
    assert imported.status_code == 422 and imported.json()["files"][0]["file"] == "big.pem"  # read, then refused
    too_big = [("files", ("big.pem", b"x" * (UPLOAD + 1), "application/x-pem-file"))]
    refused = client.post("/api/v1/certificates/import", files=too_big, headers=operator.headers)
    _assert_refused(refused, UPLOAD, "server.max_upload_bytes")
    json_route = client.post("/api/v1/groups", json={"name": "g" * (SMALL * 2)}, headers=operator.headers)
    _assert_refused(json_route, SMALL, "server.max_body_bytes")


def test_every_route_refuses_a_body_past_its_limit(small_limits: tuple[App, TestClient]) -> None:
    """Walks every route of the API, the web UI and the direct routes, with every method it takes."""
    application, client = small_limits
    api = client.app
    limits = Limits.of(SMALL, UPLOAD, api.routes)  # type: ignore[attr-defined]
    body = b"x" * (UPLOAD + 1)
    seen = 0
    routes = [(ctx.path_format, ctx.original_route) for ctx in iter_route_contexts(api.routes)]  # type: ignore[attr-defined]
    routes += [(route.path_format, route) for route in api.direct_routes]  # type: ignore[attr-defined]
    for path, route in routes:
        for method in sorted(getattr(route, "methods", None) or {"GET", "POST"}):
            if method == "HEAD":
                continue
            url = path.replace("{", "").replace("}", "").replace(":path", "")
            answer = client.request(method, url, content=body, headers={"content-type": "application/json"})
            assert answer.status_code == 413, f"{method} {path}: {answer.status_code}"
            seen += 1
    assert seen > 150 and len(limits.upload_routes) == 6


# ---- a streamed body is cut off as it arrives -----------------------------------------------------------
def test_a_streamed_body_stops_being_read_at_the_limit() -> None:
    """ASGI-level: the middleware reads no further than the limit, answers 413 itself, and drops what the
    route says after that."""
    chunk, chunks = 1024, 1000
    received: list[int] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        received.append(chunk)
        return {"type": "http.request", "body": b"x" * chunk, "more_body": len(received) < chunks}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def route(scope: Any, receive_: Any, send_: Any) -> None:
        while (await receive_())["type"] == "http.request":
            pass
        await send_({"type": "http.response.start", "status": 200, "headers": []})  # must not go out
        await send_({"type": "http.response.body", "body": b"parsed"})

    async def handler(_request: Any, exc: Exception) -> Any:
        from certvault.api.app import problem

        assert isinstance(exc, TooLarge)
        return problem(413, exc.code, exc.message)

    middleware = BodyLimit(route, Limits(8 * chunk, 64 * chunk), {TooLarge: handler})
    scope = {"type": "http", "method": "POST", "path": "/api/v1/auth/login", "headers": [], "query_string": b""}
    asyncio.run(middleware(scope, receive, send))
    assert len(received) == 9  # 8 KiB allowed: the ninth chunk passes the limit, and nothing more is read
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [413]
    assert b"parsed" not in b"".join(m.get("body", b"") for m in sent)

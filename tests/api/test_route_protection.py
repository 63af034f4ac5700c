"""RBAC on every route: walk the whole OpenAPI route list; anonymous → 401, under-privileged → 403."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from certvault.api.app import PUBLIC_PATHS
from certvault.api.deps import _PermissionGate
from certvault.auth.rbac import ROLE_PERMISSIONS, Permission, Role
from certvault.container import App
from tests.conftest import Login, api_client, create_login

# Roles tried as the under-privileged caller, least privileged first.
ROLE_ORDER = (Role.USER, Role.AUDITOR, Role.OPERATOR)


def _gates(route: APIRoute) -> list[Permission]:
    found: list[Permission] = []

    def walk(dependant: Any) -> None:
        for dep in dependant.dependencies:
            if isinstance(dep.call, _PermissionGate):
                found.append(dep.call.permission)
            walk(dep)

    walk(route.dependant)
    return found


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def api_routes(client: TestClient) -> list[tuple[str, APIRoute]]:
    """(path, route) for every APIRoute, including those of included routers."""
    return [(ctx.path_format, ctx.original_route) for ctx in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
            if isinstance(ctx.original_route, APIRoute)]


def _routes(client: TestClient) -> list[tuple[str, str, APIRoute]]:
    """(method, path, route) for every operation in the OpenAPI document."""
    schema_paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    by_operation = {(method, path): route for path, route in api_routes(client) for method in route.methods}
    return [(method.upper(), path, by_operation[(method.upper(), path)])
            for path, operations in schema_paths.items() for method in operations]


@pytest.fixture(scope="module")
def walker(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Any) -> Any:
    import shutil

    from certvault.container import build_app
    from tests.conftest import make_settings

    data = tmp_path_factory.mktemp("rbac") / "data"
    shutil.copytree(sqlite_template, data)
    application: App = build_app(make_settings(data), run_migrations=False)
    logins: dict[Role, Login] = {role: create_login(application, role.value) for role in ROLE_ORDER}
    with api_client(application) as client:
        yield client, logins
    application.close()


def test_every_route_refuses_anonymous_callers(walker: Any) -> None:
    client, _ = walker
    failures = []
    for method, path, _route in _routes(client):
        response = client.request(method, _fill(path), json={})
        if path in PUBLIC_PATHS:
            if response.status_code == 401:
                failures.append(f"{method} {path}: public route answered 401")
        elif response.status_code != 401:
            failures.append(f"{method} {path}: anonymous got {response.status_code}")
    assert failures == []


def test_every_permission_gated_route_refuses_underprivileged_roles(walker: Any) -> None:
    client, logins = walker
    failures, checked = [], 0
    for method, path, route in _routes(client):
        for permission in _gates(route):
            role = next((r for r in ROLE_ORDER if permission not in ROLE_PERMISSIONS[r]), None)
            if role is None:
                continue  # every role may do this; the service checks object-level access
            checked += 1
            response = client.request(method, _fill(path), json={}, headers=logins[role].headers)
            if response.status_code != 403:
                failures.append(f"{method} {path} as {role.value}: {response.status_code}")
    assert failures == []
    assert checked > 10


def test_every_non_public_route_declares_how_it_is_protected(walker: Any) -> None:
    """A route is public, gated by a role permission, or explicitly for any authenticated caller."""
    client, _ = walker
    from certvault.api.deps import authenticated, authenticated_for_password_change

    def uses_auth(dependant: Any) -> bool:
        return any(d.call in (authenticated, authenticated_for_password_change) or isinstance(d.call, _PermissionGate)
                   or uses_auth(d) for d in dependant.dependencies)

    unprotected = [f"{m} {p}" for m, p, r in _routes(client)
                   if p not in PUBLIC_PATHS and not uses_auth(r.dependant) and not getattr(r, "custom_auth", False)]
    assert unprotected == []


def test_web_pages_send_anonymous_visitors_to_login(walker: Any) -> None:
    client, _ = walker
    pages = [path for path, r in api_routes(client)
             if not r.include_in_schema and "GET" in r.methods and path not in ("/login",)]
    assert pages
    for path in pages:
        response = client.get(_fill(path), follow_redirects=False, headers={"accept": "text/html"})
        assert response.status_code == 303, f"{path}: {response.status_code}"
        assert response.headers["location"].startswith("/login?next=")

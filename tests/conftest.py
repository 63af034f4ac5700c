"""Shared fixtures: an App on SQLite and on a real PostgreSQL, an API client, users per role.

Each test gets a fresh database copied from a template migrated once per worker process:
a file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on PostgreSQL.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from certvault.auth.rbac import Actor
from certvault.config import Settings, load_settings
from certvault.container import App, build_app
from tests.servers.certvault_server import LiveServer, remove_live_server, start_live_server
from tests.servers.postgres import PostgresServer

TEST_OVERRIDES = {"security": {"password_min_length": 8}}


def make_settings(data_dir: Path, db_url: str | None = None, **extra: object) -> Settings:
    overrides: dict[str, object] = {"data_dir": str(data_dir), **TEST_OVERRIDES, **extra}
    if db_url:
        overrides["db"] = {"url": db_url}
    return load_settings(environ={}, overrides=overrides)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sqlite-template")
    build_app(make_settings(directory)).close()
    return directory


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    name = f"tpl_{uuid.uuid4().hex[:8]}"
    directory = tmp_path_factory.mktemp("pg-template")
    url = postgres_server.create_database(name)
    build_app(make_settings(directory, url)).close()
    return name, directory


def _sqlite_app(template: Path, tmp_path: Path) -> App:
    data = tmp_path / "data"
    shutil.copytree(template, data)
    return build_app(make_settings(data), run_migrations=False)


def _postgres_app(server: PostgresServer, template: tuple[str, Path], tmp_path: Path) -> tuple[App, str]:
    name, key_dir = template
    db = f"t_{uuid.uuid4().hex[:12]}"
    url = server.create_database(db, template=name)
    data = tmp_path / "data"
    shutil.copytree(key_dir, data)
    return build_app(make_settings(data, url), run_migrations=False), db


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[App]:
    """The application on each database backend (storage, job and service tests use this)."""
    if request.param == "sqlite":
        application = _sqlite_app(sqlite_template, tmp_path)
        yield application
        application.close()
        return
    server = request.getfixturevalue("postgres_server")
    application, db = _postgres_app(server, request.getfixturevalue("postgres_template"), tmp_path)
    yield application
    application.close()
    server.drop_database(db)


@pytest.fixture
def sqlite_app(tmp_path: Path, sqlite_template: Path) -> Iterator[App]:
    """The application on SQLite only (for tests whose subject is not storage)."""
    application = _sqlite_app(sqlite_template, tmp_path)
    yield application
    application.close()


@pytest.fixture
def admin() -> Actor:
    return Actor.system("test-admin", via="cli")


@dataclass
class Login:
    username: str
    password: str
    token: str
    role: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def create_login(application: App, role: str, username: str | None = None,
                 allowed_networks: list[str] | None = None) -> Login:
    username = username or f"{role}-{uuid.uuid4().hex[:6]}"
    password = "Test-pass-" + uuid.uuid4().hex[:8]
    with application.transaction() as svc:
        svc.auth.create_user(Actor.system("fixture"), username, role, password=password,
                             allowed_networks=allowed_networks or [])
        token, _ = svc.auth.create_token(Actor.system("fixture"), username, "fixture")
    return Login(username, password, token, role)


def csrf_of(html: str) -> str:
    """The CSRF token of the (first) form on a web page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def submit_login_form(client: TestClient, username: str, password: str, next_url: str = "/", **fields: str) -> Any:
    """Log in through the web form as a browser does: open the page (it sets the login token), then post it."""
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"username": username, "password": password, "next": next_url,
                                       "csrf_token": token, **fields}, follow_redirects=False)


def web_login(client: TestClient, login: Login, landing: str = "/") -> str:
    """Log `login` into the web UI (dropping any earlier session); returns the CSRF token of `landing`."""
    client.cookies.clear()
    answer = submit_login_form(client, login.username, login.password, landing)
    assert answer.status_code == 303 and answer.headers["location"] == landing, answer.text
    return csrf_of(client.get(landing).text)


def api_client(application: App) -> TestClient:
    from certvault.server import create_server

    return TestClient(create_server(application), base_url="https://testserver")


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with api_client(app) as c:
        yield c


@pytest.fixture
def sqlite_client(sqlite_app: App) -> Iterator[TestClient]:
    with api_client(sqlite_app) as c:
        yield c


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    """A real `certvault serve` (and its data directory) for the module's tests."""
    server = start_live_server()
    yield server
    remove_live_server(server)


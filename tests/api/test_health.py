"""The health check answers from the database on every kind of store, under load too."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from certvault.container import App, build_app
from certvault.server import create_server
from tests.conftest import make_settings


@pytest.fixture
def memory_app(tmp_path: Path) -> Iterator[App]:
    application = build_app(make_settings(tmp_path / "memory", "sqlite:///:memory:"))
    yield application
    application.close()


def test_health_probes_the_database_on_a_file_and_on_a_private_in_memory_store(sqlite_app: App,
                                                                                memory_app: App) -> None:
    # A private in-memory database has one connection, which threads share: its probe must not run on the loop.
    probed: list[bool] = []  # whether each probe ran on the event loop
    for application in (sqlite_app, memory_app):
        original = application.reading

        def reading(original=original):  # type: ignore[no-untyped-def]
            probed.append(_on_event_loop())
            return original()

        application.reading = reading  # type: ignore[method-assign]
        with TestClient(create_server(application), base_url="https://testserver") as client:
            answer = client.get("/api/v1/health")
        assert answer.status_code == 200 and answer.json()["status"] == "ok", answer.text
    assert (sqlite_app.reads_on_loop, memory_app.reads_on_loop) == (True, False)
    assert probed == [True, False]


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True

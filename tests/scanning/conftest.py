"""Fixtures of the scanning tests: a test CA, real TLS servers on loopback, and a helper that runs a
scan the way the server does (a run row, an expand job, batch jobs, all through the job worker)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.scanning.schemas import TargetSpec
from tests.scanning.tls import ScanCA, TlsServers


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> ScanCA:
    return ScanCA(tmp_path_factory.mktemp("scan-ca"))


@pytest.fixture
def tls_servers(tmp_path: Path) -> Iterator[TlsServers]:
    servers = TlsServers(tmp_path)
    yield servers
    servers.stop_all()


def start_scan(app: App, actor: Actor, **spec: Any) -> uuid.UUID:
    with app.transaction() as svc:
        return svc.scanning.start_run(actor, TargetSpec(**spec)).id


def scan_and_wait(app: App, actor: Actor, **spec: Any) -> uuid.UUID:
    """Start a run and let a worker process every job it creates."""
    run_id = start_scan(app, actor, **spec)
    app.worker().run_until_idle(timeout=120)
    return run_id

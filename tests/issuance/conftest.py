"""An App wired to a real Pebble: runtime settings point self-checks at challtestsrv, the http-01
responder at Pebble's http port; a test DNS provider talks to challtestsrv."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.issuance.models import AcmeAccount, AcmeOrder
from certvault.plugins.registry import PluginRegistry
from tests.servers import pebble as servers

ADMIN = Actor.system("test-admin", via="cli")


@pytest.fixture(scope="session")
def challtestsrv() -> servers.ChallTestSrv:
    return servers.challtestsrv()


@pytest.fixture(scope="session")
def pebble() -> servers.Pebble:
    return servers.pebble()


def wire(app: App, ca: servers.Pebble, dns: servers.ChallTestSrv) -> App:
    registry = PluginRegistry()
    registry.register("dns", "challtestsrv", servers.ChallTestSrvDNS)
    app.process.plugins = registry
    with app.transaction() as svc:
        for key, value in {"acme.resolvers": [dns.dns], "acme.http01_port": ca.http_port,
                           "acme.http01_addresses": ["127.0.0.1", "::1"]}.items():
            svc.system.set(ADMIN, key, value)
    return app


@pytest.fixture
def acme_app(app: App, pebble: servers.Pebble, challtestsrv: servers.ChallTestSrv) -> App:
    """The engine and services on each database backend (SQLite and PostgreSQL), wired to Pebble."""
    return wire(app, pebble, challtestsrv)


@pytest.fixture
def sqlite_acme_app(sqlite_app: App, pebble: servers.Pebble, challtestsrv: servers.ChallTestSrv) -> App:
    """SQLite only: for tests whose other processes (CLI, a killed worker) open the data directory."""
    return wire(sqlite_app, pebble, challtestsrv)


def register(app: App, ca: servers.Pebble, email: str = "ops@example.test") -> AcmeAccount:
    with app.transaction() as svc:
        return svc.issuance.accounts.register(ADMIN, ca.directory_url, email, True, ca_bundle_pem=ca.tls_ca.read_text())


def dns_account(app: App, dns: servers.ChallTestSrv) -> Any:
    with app.transaction() as svc:
        return svc.issuance.dns_accounts.add(
            ADMIN, "challtestsrv", f"ctsrv-{uuid.uuid4().hex[:6]}",
            {"management_url": f"http://127.0.0.1:{dns.management_port}", "dns_server": dns.dns}, {})


def name(label: str = "www") -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}.example.test"


def run_orders(app: App, timeout: float = 60.0) -> None:
    """Run the worker until every order is stored, failed or waiting for a person."""
    worker = app.worker(poll_interval=0.01)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.run_until_idle(timeout=timeout)
        with app.transaction() as svc:
            busy = [o for o in svc.session.query(AcmeOrder).all()
                    if o.state not in ("stored", "failed") and not (
                        o.state == "authorizations_pending" and o.fulfilment == "manual"
                        and o.verify_requested_at is None)]
        if not busy:
            return
        time.sleep(0.02)
    raise AssertionError(f"orders still running after {timeout}s: {[(o.id, o.state) for o in busy]}")


def metric_values(app: App, family: str) -> dict[str, float]:
    """The samples of one Prometheus family as GET /metrics shows them to a reader."""
    from tests.conftest import api_client, create_login

    login = create_login(app, "auditor")
    with api_client(app) as client:
        text = client.get("/metrics", headers=login.headers).text
    return {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
            if line.startswith(family + "{")}


@pytest.fixture
def admin_actor() -> Iterator[Actor]:
    yield ADMIN

"""Fixtures: one test PKI and one mutual-TLS HTTPS server per test module, a client identity."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from certvault.outbound import ClientIdentity, ClientOptions, OutboundClients
from tests.outbound.pki import Issued, Pki, make_pki, pem
from tests.outbound.servers import MutualTLSServer


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="module")
def server(pki: Pki) -> Iterator[MutualTLSServer]:
    running = MutualTLSServer(pki).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client_cert(pki: Pki) -> Issued:
    return pki.issue("agent-01")


@pytest.fixture
def identity(client_cert: Issued) -> ClientIdentity:
    return ClientIdentity(client_cert.key, client_cert.cert)


@pytest.fixture
def clients() -> OutboundClients:
    return OutboundClients()


@pytest.fixture
def opts(pki: Pki, server: MutualTLSServer) -> Callable[..., ClientOptions]:
    """Options that trust the test CA and talk to the test server, plus any overrides."""

    def make(**extra: Any) -> ClientOptions:
        return ClientOptions(base_url=server.url, trust="ca_bundle", ca_bundle=pem(pki.ca.cert).decode(), **extra)

    return make

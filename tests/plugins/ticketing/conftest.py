"""Fixtures for the help-desk plugins: loopback TLS for the fakes, a client CA the fakes require, a
client certificate (as a PKCS#12 keystore) and one from a CA they do not trust, and the outbound
client factory bound to them as an account's connection settings would bind it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from certvault.crypto import pkcs12
from certvault.outbound import ClientIdentity, ClientOptions, OutboundClients
from certvault.plugins.registry import default_registry
from tests.outbound.pki import Issued, Pki, key_pem, make_pki, pem, self_signed_ca
from tests.servers.jira_fake import JiraFake
from tests.servers.servicedeskplus_fake import ServiceDeskPlusFake
from tests.servers.servicenow_fake import ServiceNowFake
from tests.servers.test_ca import LoopbackTLS, make_loopback_tls

KEYSTORE_PASSWORD = "keystore-pass-7"


@dataclass
class ClientPki:
    pki: Pki
    ca_file: Path  # what the fakes trust for client certificates
    good: Issued
    wrong: Issued  # signed by a CA the fakes do not trust
    cert_file: Path  # the good certificate and key as PEM files, for pysnc/jira (requests)
    key_file: Path

    def keystore(self) -> bytes:
        return pkcs12.export("certvault", self.good.key, self.good.cert, [], KEYSTORE_PASSWORD)


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LoopbackTLS:
    return make_loopback_tls(tmp_path_factory.mktemp("helpdesk-tls"))


@pytest.fixture(scope="session")
def client_pki(tmp_path_factory: pytest.TempPathFactory) -> ClientPki:
    directory = tmp_path_factory.mktemp("helpdesk-client")
    pki = make_pki("help desk client CA")
    good = pki.issue("certvault-client")
    wrong_ca = self_signed_ca("someone else's CA")
    wrong = Pki(wrong_ca, wrong_ca).issue("certvault-client")
    (directory / "ca.pem").write_bytes(pem(pki.ca.cert))
    (directory / "client.pem").write_bytes(pem(good.cert))
    (directory / "client.key").write_bytes(key_pem(good.key))
    return ClientPki(pki, directory / "ca.pem", good, wrong, directory / "client.pem", directory / "client.key")


class AccountClients:
    """The HttpClientFactory a help-desk account gets: trust the fakes' CA only, present `identity`
    (from the account's keystore) when asked, quick retries for tests."""

    def __init__(self, tls: LoopbackTLS, identity: ClientIdentity | None, **connection: Any) -> None:
        self.identity = identity
        settings = {"trust": "ca_bundle", "ca_bundle": tls.ca_file.read_text(), "retries": 2, "backoff": 0.05,
                    "read_timeout": 10.0, **connection}
        self.options = ClientOptions.model_validate(settings)
        self.outbound = OutboundClients()

    def __call__(self, *, base_url: str = "", headers: Mapping[str, str] | None = None, auth: Any = None,
                 ca_bundle: str | None = None) -> httpx.Client:
        options = self.options.model_copy(update={"base_url": base_url}) if base_url else self.options
        client = self.outbound.client_for("ticketing:test", options, self.identity)
        client.headers.update(headers or {})
        if auth is not None:
            client.auth = auth
        return client


@pytest.fixture(scope="session")
def identity(client_pki: ClientPki) -> ClientIdentity:
    return ClientIdentity.from_keystore(client_pki.keystore(), KEYSTORE_PASSWORD)


@pytest.fixture
def clients(tls: LoopbackTLS, identity: ClientIdentity) -> AccountClients:
    return AccountClients(tls, identity)


def build(kind_name: str, options: dict[str, Any], secrets: dict[str, str], http: Any) -> Any:
    """The plugin as the registry builds it for an account (options and secrets validated first)."""
    registry = default_registry()
    registry.validate("ticketing", kind_name, options, secrets)
    return registry.create("ticketing", kind_name, options, lambda field: secrets.get(field, ""), http)


@pytest.fixture
def servicenow(tls: LoopbackTLS, client_pki: ClientPki) -> Iterator[ServiceNowFake]:
    with ServiceNowFake(tls, client_ca=client_pki.ca_file) as fake:
        yield fake


@pytest.fixture
def servicedeskplus(tls: LoopbackTLS, client_pki: ClientPki) -> Iterator[ServiceDeskPlusFake]:
    with ServiceDeskPlusFake(tls, client_ca=client_pki.ca_file) as fake:
        yield fake


@pytest.fixture
def jira(tls: LoopbackTLS, client_pki: ClientPki) -> Iterator[JiraFake]:
    with JiraFake(tls, client_ca=client_pki.ca_file) as fake:
        yield fake

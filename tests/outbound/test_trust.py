"""Which servers the client trusts: the system store, a CA bundle, or a pinned certificate (PEM
or DER) accepted whatever CA signed it; the same context for raw sockets; through a proxy."""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import ssl
from collections.abc import Callable

import pytest

from certvault.outbound import ClientIdentity, ClientOptions, OutboundClients, OutboundError, PinMismatch, ssl_context
from tests.outbound.pki import Pki, der, pem
from tests.outbound.servers import ConnectProxy, MutualTLSServer

Options = Callable[..., ClientOptions]


def _pinned(server: MutualTLSServer, certificate: object) -> ClientOptions:
    return ClientOptions(base_url=server.url, trust="pinned", pinned_certificate=certificate)


def _get(clients: OutboundClients, options: ClientOptions, identity: ClientIdentity) -> str:
    with clients.client_for("acct", options, identity) as client:
        return client.get("/whoami").text


@pytest.mark.parametrize("form", ["pem", "der", "der-base64"])
def test_pinned_server_certificate_is_accepted_without_its_ca(
        form: str, pki: Pki, server: MutualTLSServer, clients: OutboundClients, identity: ClientIdentity) -> None:
    given = {"pem": pem(pki.server.cert).decode(), "der": der(pki.server.cert),
             "der-base64": base64.b64encode(der(pki.server.cert)).decode()}[form]
    assert _get(clients, _pinned(server, given), identity) == "agent-01"


def test_wrong_pin_is_refused_naming_both_fingerprints(pki: Pki, server: MutualTLSServer, clients: OutboundClients,
                                                      identity: ClientIdentity) -> None:
    other = pki.issue("localhost", client=False, sans=("127.0.0.1",))  # same CA, same names: still not the pin
    with pytest.raises(PinMismatch) as caught:
        _get(clients, _pinned(server, pem(other.cert)), identity)
    message = str(caught.value)
    assert "\n" not in message
    assert re.fullmatch(r"127\.0\.0\.1:\d+ presented certificate sha256:[0-9a-f]{16}…, "
                        r"not the pinned sha256:[0-9a-f]{16}…", message), message
    assert message.count("sha256:") == 2


def test_wrong_pin_is_refused_by_the_async_client(pki: Pki, server: MutualTLSServer, clients: OutboundClients,
                                                  identity: ClientIdentity) -> None:
    async def call(options: ClientOptions) -> str:
        async with clients.async_client_for("acct", options, identity) as client:
            return (await client.get("/whoami")).text

    assert asyncio.run(call(_pinned(server, pem(pki.server.cert)))) == "agent-01"
    with pytest.raises(PinMismatch, match="not the pinned"):
        asyncio.run(call(_pinned(server, pem(pki.ca.cert))))


def test_ca_bundle_is_trusted_and_the_system_store_is_not_enough(
        opts: Options, server: MutualTLSServer, clients: OutboundClients, identity: ClientIdentity) -> None:
    assert _get(clients, opts(), identity) == "agent-01"
    with pytest.raises(OutboundError, match="certificate verify failed") as caught:
        _get(clients, ClientOptions(base_url=server.url), identity)
    assert not isinstance(caught.value, PinMismatch)


def test_ca_bundle_checks_the_host_name_and_a_pin_does_not(
        opts: Options, pki: Pki, server: MutualTLSServer, clients: OutboundClients, identity: ClientIdentity) -> None:
    elsewhere = {"sni_hostname": "elsewhere.test"}  # a name the server's certificate does not hold
    with clients.client_for("acct", opts(), identity) as client, \
            pytest.raises(OutboundError, match="certificate verify failed: Hostname mismatch"):
        client.get("/whoami", extensions=elsewhere)
    with clients.client_for("acct", _pinned(server, pem(pki.server.cert)), identity) as client:
        assert client.get("/whoami", extensions=elsewhere).text == "agent-01"


def test_the_context_serves_raw_sockets_too(pki: Pki, server: MutualTLSServer, identity: ClientIdentity) -> None:
    """What smtplib or a syslog sender would do with it: the pin is checked in the handshake."""
    host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1])
    good = ssl_context(_pinned(server, pem(pki.server.cert)), identity)
    with socket.create_connection((host, port), timeout=5) as raw, good.wrap_socket(raw, server_hostname=host) as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    wrong = ssl_context(_pinned(server, pem(pki.ca.cert)), identity)
    with socket.create_connection((host, port), timeout=5) as raw, pytest.raises(ssl.SSLError, match="not the pinned"):
        wrong.wrap_socket(raw, server_hostname=host)


def test_requests_go_through_the_accounts_proxy(opts: Options, server: MutualTLSServer, clients: OutboundClients,
                                                identity: ClientIdentity) -> None:
    proxy = ConnectProxy()
    try:
        with clients.client_for("acct", opts(proxy=proxy.url), identity, proxy_auth=("proxy-user", "pr0xy")) as c:
            assert c.get("/whoami").text == "agent-01"
    finally:
        proxy.close()
    target = server.url.removeprefix("https://")
    assert proxy.tunnels == [(target, "Basic " + base64.b64encode(b"proxy-user:pr0xy").decode())]

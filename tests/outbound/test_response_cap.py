"""The response size cap: reading stops past max_response_bytes, compressed or not, streamed or not."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from certvault.outbound import ClientIdentity, ClientOptions, OutboundClients, ResponseTooLarge
from tests.outbound.servers import MutualTLSServer

Options = Callable[..., ClientOptions]


def test_announced_length_over_the_cap_is_refused_before_reading(
        opts: Options, clients: OutboundClients, server: MutualTLSServer, identity: ClientIdentity) -> None:
    with clients.client_for("acct", opts(max_response_bytes=1000), identity) as client, \
            pytest.raises(ResponseTooLarge) as caught:
        client.get("/big?n=5000")
    host = server.url.removeprefix("https://")
    assert str(caught.value) == (f"{host} sent more than the 1,000-byte response cap (it announced 5,000 bytes); "
                                 "raise max_response_bytes if that is expected")


def test_chunked_body_is_cut_at_the_cap(opts: Options, clients: OutboundClients, identity: ClientIdentity) -> None:
    with clients.client_for("acct", opts(max_response_bytes=1000), identity) as client:
        with pytest.raises(ResponseTooLarge, match="more than the 1,000-byte response cap;"):
            client.get("/big?n=5000&chunked=1")
        with client.stream("GET", "/big?n=5000&chunked=1") as response:  # streaming stops at the same byte
            received = 0
            with pytest.raises(ResponseTooLarge):
                for chunk in response.iter_bytes():
                    received += len(chunk)
        assert received <= 1000
        assert client.get("/big?n=1000&chunked=1").content == bytes(1000)  # exactly the cap is fine


def test_compressed_body_is_measured_unpacked(opts: Options, clients: OutboundClients,
                                              identity: ClientIdentity) -> None:
    with clients.client_for("acct", opts(max_response_bytes=100_000), identity) as client:
        with pytest.raises(ResponseTooLarge):  # about 1 KB on the wire, 10 MB unpacked
            client.get("/big?n=10000000&gzip=1&chunked=1")
        small = client.get("/big?n=5000&gzip=1")
    assert small.content == bytes(5000) and "content-encoding" not in small.headers
    assert small.request.headers["accept-encoding"] == "gzip"

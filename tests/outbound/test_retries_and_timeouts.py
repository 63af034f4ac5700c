"""Bounded retries that honour Retry-After, and timeouts that name the phase and the host."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from certvault.outbound import (
    ClientIdentity,
    ClientOptions,
    OutboundClients,
    OutboundError,
    OutboundTimeout,
    RetriesExhausted,
)
from certvault.outbound.retries import retry_after
from tests.outbound.servers import MutualTLSServer, SilentListener

Options = Callable[..., ClientOptions]


def _path(**query: object) -> str:
    return f"/retry/{uuid.uuid4().hex}?" + "&".join(f"{k}={v}" for k, v in query.items())


def test_retry_after_seconds_is_waited_for(opts: Options, clients: OutboundClients, server: MutualTLSServer,
                                           identity: ClientIdentity) -> None:
    path = _path(times=1, after=1)
    with clients.client_for("acct", opts(backoff=0), identity) as client:
        started = time.monotonic()
        response = client.get(path)
        waited = time.monotonic() - started
    assert response.status_code == 200 and response.text == "ok"
    assert server.hits[path.split("?")[0]] == 2
    assert waited >= 1.0


def test_retry_after_http_date_is_waited_for(opts: Options, clients: OutboundClients, server: MutualTLSServer,
                                             identity: ClientIdentity) -> None:
    path = _path(times=1, after="date:3", status=429)  # an HTTP date (1 s resolution) 3 s ahead
    with clients.client_for("acct", opts(backoff=0), identity) as client:
        started = time.monotonic()
        assert client.post(path, content=b"{}").status_code == 200  # 429: retried even for a POST
    assert time.monotonic() - started >= 1.5
    assert server.hits[path.split("?")[0]] == 2


def test_retry_after_parsing() -> None:
    now = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after(httpx.Headers({"Retry-After": "7"}), now) == 7.0
    assert retry_after(httpx.Headers({"Retry-After": "Fri, 01 May 2026 12:00:30 GMT"}), now) == 30.0
    assert retry_after(httpx.Headers({"Retry-After": "Fri, 01 May 2026 11:00:00 GMT"}), now) == 0.0
    assert retry_after(httpx.Headers({"Retry-After": "soon"}), now) is None
    assert retry_after(httpx.Headers({}), now) is None


def test_retries_are_bounded_and_the_error_names_status_and_host(
        opts: Options, clients: OutboundClients, server: MutualTLSServer, identity: ClientIdentity) -> None:
    path = _path(times=99)
    with clients.client_for("acct", opts(retries=2, backoff=0.05), identity) as client, \
            pytest.raises(RetriesExhausted) as caught:
        client.get(path)
    assert server.hits[path.split("?")[0]] == 3
    assert str(caught.value) == f"{server.url.removeprefix('https://')} answered HTTP 503 to GET, after 3 attempts"
    assert caught.value.details["status"] == 503


def test_a_retry_after_beyond_the_cap_stops_at_once(opts: Options, clients: OutboundClients,
                                                    server: MutualTLSServer, identity: ClientIdentity) -> None:
    path = _path(times=99, after=3600)
    with clients.client_for("acct", opts(max_retry_wait=5), identity) as client, \
            pytest.raises(RetriesExhausted, match="asks to retry after 3600 s, more than max_retry_wait 5 s") as caught:
        client.get(path)
    assert server.hits[path.split("?")[0]] == 1
    assert caught.value.details["retry_after"] == 3600.0  # for a delayed job


def test_a_post_is_not_sent_twice_after_a_bad_gateway(opts: Options, clients: OutboundClients,
                                                      server: MutualTLSServer, identity: ClientIdentity) -> None:
    posted, got = _path(times=1, status=502), _path(times=1, status=502)
    with clients.client_for("acct", opts(backoff=0), identity) as client:
        assert client.post(posted, content=b"x").status_code == 502
        assert client.get(got).status_code == 200  # a GET is retried
    assert server.hits[posted.split("?")[0]] == 1 and server.hits[got.split("?")[0]] == 2


def test_async_client_retries_too(opts: Options, clients: OutboundClients, server: MutualTLSServer,
                                  identity: ClientIdentity) -> None:
    path = _path(times=1, after=1)

    async def call() -> httpx.Response:
        async with clients.async_client_for("acct", opts(), identity) as client:
            return await client.get(path)

    started = time.monotonic()
    assert asyncio.run(call()).status_code == 200
    assert time.monotonic() - started >= 1.0


def test_read_timeout_names_the_phase_and_the_host(opts: Options, clients: OutboundClients,
                                                   server: MutualTLSServer, identity: ClientIdentity) -> None:
    with clients.client_for("acct", opts(read_timeout=0.3, retries=0), identity) as client, \
            pytest.raises(OutboundTimeout) as caught:
        client.get("/slow?s=2")
    assert str(caught.value) == f"read timeout: {server.url.removeprefix('https://')} sent nothing for 0.3 s"


def test_connect_timeout_is_retried_then_named(clients: OutboundClients, identity: ClientIdentity) -> None:
    silent = SilentListener()  # the TCP connection opens, the TLS handshake never answers
    try:
        options = ClientOptions(base_url=silent.url, connect_timeout=0.3, retries=1, backoff=0.05)
        with clients.client_for("acct", options, identity) as client, pytest.raises(OutboundTimeout) as caught:
            client.get("/")
    finally:
        silent.close()
    host = silent.url.removeprefix("https://")
    assert str(caught.value) == f"connect timeout: no TLS connection to {host} within 0.3 s (2 attempts)"


def test_refused_connection_is_one_line(clients: OutboundClients) -> None:
    silent = SilentListener()
    url = silent.url
    silent.close()  # nothing listens there now
    with clients.client_for("acct", ClientOptions(base_url=url, retries=1, backoff=0.05)) as client, \
            pytest.raises(OutboundError, match=r"^GET to 127\.0\.0\.1:\d+ failed: .*refused \(2 attempts\)$"):
        client.get("/")


def test_plain_http_is_refused_unless_allowed(clients: OutboundClients) -> None:
    from certvault.errors import InvalidInput

    with clients.client_for("acct", ClientOptions()) as client, pytest.raises(InvalidInput, match="refusing plain"):
        client.get("http://127.0.0.1:9/")

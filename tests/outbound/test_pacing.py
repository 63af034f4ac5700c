"""Pacing: N requests per interval per account, shared by every client of the account."""

from __future__ import annotations

import time
from collections.abc import Callable

from certvault.outbound import ClientIdentity, ClientOptions, OutboundClients
from certvault.outbound.pacing import TokenBucket

Options = Callable[..., ClientOptions]


def test_six_requests_at_two_per_second_take_two_seconds(opts: Options, clients: OutboundClients,
                                                         identity: ClientIdentity) -> None:
    with clients.client_for("paced", opts(pacing_requests=2, pacing_interval=1.0), identity) as client:
        started = time.monotonic()
        statuses = [client.get("/whoami").status_code for _ in range(6)]
    assert statuses == [200] * 6
    assert time.monotonic() - started >= 2.0  # a burst of 2, then one every 0.5 s


def test_clients_of_one_account_share_the_pace(opts: Options, clients: OutboundClients,
                                               identity: ClientIdentity) -> None:
    options = opts(pacing_requests=2, pacing_interval=1.0)
    started = time.monotonic()
    for _ in range(2):
        with clients.client_for("shared", options, identity) as client:
            for _ in range(3):
                client.get("/whoami")
    assert time.monotonic() - started >= 2.0
    assert clients.bucket("shared", options) is clients.bucket("shared", options)
    assert clients.bucket("other", options) is not clients.bucket("shared", options)
    assert clients.bucket("shared", opts()) is None  # no pacing configured


def test_token_bucket_waits() -> None:
    now = [100.0]
    bucket = TokenBucket(2, 1.0, clock=lambda: now[0])
    assert [bucket.reserve() for _ in range(4)] == [0.0, 0.0, 0.5, 1.0]
    now[0] += 10  # refills, up to the burst size only
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.5]

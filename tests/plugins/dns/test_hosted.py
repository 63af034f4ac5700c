"""The pieces of plugins/dns/hosted.py that need no server: the label walk, the TXT merge, the zone-list
cache's lifetime (on a fake clock) and the error wording."""

from __future__ import annotations

import threading

import pytest

from certvault.plugins.dns.hosted import (
    Hints,
    Zone,
    ZoneCache,
    api_error,
    fingerprint,
    longest_zone,
    relative,
    with_value,
    without_value,
)

ZONES = {"example.com": "id-1", "sub.example.com": "id-2", "example.net": "id-3"}


@pytest.mark.parametrize(("fqdn", "zone"), [
    ("_acme-challenge.www.example.com", Zone("example.com", "id-1")),
    ("_acme-challenge.a.b.sub.example.com.", Zone("sub.example.com", "id-2")),
    ("_ACME-challenge.Sub.Example.COM", Zone("sub.example.com", "id-2")),
    ("example.net", Zone("example.net", "id-3")),
    ("_acme-challenge.notexample.com", None),
    ("_acme-challenge.www.example.org", None),
])
def test_the_longest_zone_wins(fqdn: str, zone: Zone | None) -> None:
    assert longest_zone(fqdn, ZONES) == zone


def test_relative_names() -> None:
    assert relative("_acme-challenge.www.example.com", "example.com") == "_acme-challenge.www"
    assert relative("example.com.", "example.com") == ""


def test_merge_keeps_other_values_and_says_when_nothing_changes() -> None:
    assert with_value(["theirs"], "ours") == ["theirs", "ours"]
    assert with_value(["theirs", "ours"], "ours") is None
    assert without_value(["theirs", "ours"], "ours") == ["theirs"]
    assert without_value(["theirs"], "ours") is None


def test_the_zone_list_lives_for_its_ttl_and_loads_once_under_contention() -> None:
    now = [1000.0]
    cache = ZoneCache(ttl=300, clock=lambda: now[0])
    loads: list[int] = []
    gate = threading.Event()

    def load() -> dict[str, str]:
        gate.wait(5)
        loads.append(1)
        return {"Example.COM.": "z"}

    threads = [threading.Thread(target=cache.get, args=("account", load)) for _ in range(8)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join()
    assert len(loads) == 1 and cache.get("account", load) == {"example.com": "z"}
    now[0] += 299
    cache.get("account", load)
    assert len(loads) == 1
    now[0] += 2
    cache.get("account", load)
    assert len(loads) == 2
    cache.get("other-account", load)
    assert len(loads) == 3


def test_fingerprints_hide_the_credentials() -> None:
    key = fingerprint("cloudflare", "https://api", "super-secret-token")
    assert "super-secret-token" not in key and len(key) == 32
    assert key != fingerprint("cloudflare", "https://api", "another-token")


def test_error_wording() -> None:
    hints = Hints(credentials="check the token", permission="needs DNS:Edit")
    assert str(api_error("X", 401, "listing zones", hints=hints)) == (
        "X rejected the credentials while listing zones: check the token")
    assert str(api_error("X", 403, "adding a record", hints=hints)) == (
        "X refused adding a record (HTTP 403): needs DNS:Edit")
    limited = api_error("X", 429, "adding a record", retry_after=30)
    assert "rate limiting this account (HTTP 429)" in str(limited) and "wait 30 s" in str(limited)
    assert limited.details["retry_after"] == 30
    assert "failed (HTTP 502) after retries" in str(api_error("X", 502, "reading", retried=True))

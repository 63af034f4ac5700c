"""The behaviour every DNS provider must get right, run against each one's server over real HTTPS.

Adding a provider is one line in PROVIDERS: its name and a harness factory (tests/plugins/dns/harness.py)
that starts its server with the zones in harness.ZONES and builds the plugin as the service does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from certvault.errors import CertvaultError, IntegrationError
from certvault.plugins.dns.hosted import ZONES as ZONE_CACHE
from tests.plugins.dns import harness, harness_route53
from tests.plugins.dns.harness import Harness
from tests.servers.test_ca import LoopbackTLS, make_loopback_tls


@dataclass(frozen=True)
class Case:
    start: Callable[[LoopbackTLS], Harness]  # starts the server with harness.ZONES, returns the harness
    http_api: bool = True  # failures can be injected as HTTP statuses (429, 503)
    lists_zones: bool = True  # zones() lists the account's zones (from one cached listing)


PROVIDERS: dict[str, Case] = {
    "azure": Case(harness.azure),
    "cloudflare": Case(harness.cloudflare),
    "cloudflare-global-key": Case(harness.cloudflare_global_key),
    "cloudns": Case(harness.cloudns),
    "godaddy": Case(harness.godaddy),
    "route53": Case(harness_route53.route53, http_api=False),  # moto: failures are tested in test_route53.py
}
EVERY = sorted(PROVIDERS)
HTTP = [name for name in EVERY if PROVIDERS[name].http_api]
LISTING = [name for name in EVERY if PROVIDERS[name].lists_zones]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LoopbackTLS:
    return make_loopback_tls(tmp_path_factory.mktemp("dns-tls"))


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Harness]]:
    """Each provider's server, started when a test first needs it and stopped with the module."""
    started: dict[str, Harness] = {}
    yield started
    for running in started.values():
        running.stop()


@pytest.fixture
def h(request: pytest.FixtureRequest, servers: dict[str, Harness], tls: LoopbackTLS) -> Iterator[Harness]:
    name = request.param
    if name not in servers:
        servers[name] = PROVIDERS[name].start(tls)
    ZONE_CACHE.forget()
    yield servers[name]
    servers[name].clear_failures()


every = pytest.mark.parametrize("h", EVERY, indirect=True)
http_api = pytest.mark.parametrize("h", HTTP, indirect=True)
listing = pytest.mark.parametrize("h", LISTING, indirect=True)


def _label() -> str:
    return "t" + uuid.uuid4().hex[:10]


def _no_secret_in(h: Harness, error: BaseException) -> None:
    text = f"{error} {getattr(error, 'details', '')}"
    for secret in h.every_secret():
        assert secret not in text


@every
def test_a_deep_name_goes_to_the_longest_zone_and_back_out(h: Harness) -> None:
    provider = h.provider()
    fqdn = f"_acme-challenge.a.b.{_label()}.sub.example.net"
    provider.present(fqdn, "deep-value")
    assert h.in_zone("sub.example.net", fqdn) == ["deep-value"]
    assert h.in_zone("example.net", fqdn) == []
    provider.cleanup(fqdn, "deep-value")
    assert h.txt(fqdn) == []


@listing
def test_the_zone_list_is_cached_per_account_not_per_call(h: Harness) -> None:
    before = h.zone_list_calls()
    first = h.provider()
    first_name = f"_acme-challenge.{_label()}.example.com"
    first.present(first_name, "v1")
    listed = h.zone_list_calls()
    assert listed > before  # one listing (of one or more pages)
    second = h.provider()  # another object of the same account (a new order, another worker)
    fqdn = f"_acme-challenge.{_label()}.example.net"
    second.present(fqdn, "v2")
    assert sorted(second.zones()) == sorted(h.zones)
    assert h.zone_list_calls() == listed
    second.cleanup(fqdn, "v2")
    second.cleanup(first_name, "v1")


@every
def test_apex_and_wildcard_values_coexist_and_cleanup_leaves_everything_else(h: Harness) -> None:
    name = f"{_label()}.example.com"
    fqdn = f"_acme-challenge.{name}"
    h.add_other(fqdn, "someone-elses-verification")
    h.add_other(f"www.{name}", "unrelated record")
    before = h.snapshot()
    provider = h.provider()
    provider.present(fqdn, "apex-value")
    provider.present(fqdn, "wildcard-value")
    assert sorted(h.txt(fqdn)) == ["apex-value", "someone-elses-verification", "wildcard-value"]
    provider.present(fqdn, "apex-value")  # presenting again changes nothing
    assert sorted(h.txt(fqdn)) == ["apex-value", "someone-elses-verification", "wildcard-value"]
    provider.cleanup(fqdn, "apex-value")
    assert sorted(h.txt(fqdn)) == ["someone-elses-verification", "wildcard-value"]
    provider.cleanup(fqdn, "wildcard-value")
    assert h.snapshot() == before


@every
def test_values_presented_at_once_on_one_name_all_stay(h: Harness) -> None:
    """Orders in flight together (a worker's threads) on one name: a replace-the-set provider must not lose one."""
    provider = h.provider()
    fqdn = f"_acme-challenge.{_label()}.example.com"
    values = [f"concurrent-{i}" for i in range(6)]
    with ThreadPoolExecutor(len(values)) as pool:
        list(pool.map(lambda v: provider.present(fqdn, v), values))
    assert sorted(h.txt(fqdn)) == values
    with ThreadPoolExecutor(len(values)) as pool:
        list(pool.map(lambda v: provider.cleanup(fqdn, v), values[:3]))
    assert sorted(h.txt(fqdn)) == values[3:]
    for value in values[3:]:
        provider.cleanup(fqdn, value)
    assert h.txt(fqdn) == []


@every
def test_cleanup_of_a_value_already_gone_succeeds(h: Harness) -> None:
    provider = h.provider()
    fqdn = f"_acme-challenge.{_label()}.example.com"
    provider.cleanup(fqdn, "never-there")
    provider.present(fqdn, "v")
    provider.cleanup(fqdn, "v")
    provider.cleanup(fqdn, "v")
    assert h.txt(fqdn) == []
    provider.cleanup("_acme-challenge.www.nowhere.invalid", "v")  # no zone holds it: nothing of ours left


@every
def test_bad_credentials_are_named_in_plain_words(h: Harness) -> None:
    with pytest.raises(IntegrationError) as caught:
        h.provider(bad_credentials=True).present(f"_acme-challenge.{_label()}.example.com", "v")
    assert h.title in str(caught.value)
    assert "credentials" in str(caught.value)
    _no_secret_in(h, caught.value)
    with pytest.raises(IntegrationError) as checked:
        h.provider(bad_credentials=True).check()
    assert h.title in str(checked.value)
    _no_secret_in(h, checked.value)


@every
def test_a_name_in_no_zone_is_a_plain_error(h: Harness) -> None:
    with pytest.raises(IntegrationError, match="no zone") as caught:
        h.provider().present("_acme-challenge.www.nowhere.invalid", "v")
    assert h.title in str(caught.value)
    assert "nowhere.invalid" in str(caught.value)
    _no_secret_in(h, caught.value)


@http_api
def test_429_with_retry_after_is_retried(h: Harness) -> None:
    provider = h.provider()
    provider.zones()
    fqdn = f"_acme-challenge.{_label()}.example.com"
    served = h.failures_served(429)
    h.fail(429, times=1, retry_after=1)
    provider.present(fqdn, "after-429")
    assert h.failures_served(429) == served + 1
    assert h.txt(fqdn) == ["after-429"]
    provider.cleanup(fqdn, "after-429")


@http_api
def test_429_beyond_the_retries_says_rate_limited(h: Harness) -> None:
    provider = h.provider(retries=1)
    provider.zones()
    h.fail(429, times=2, retry_after=1)
    with pytest.raises(IntegrationError, match="rate limiting") as caught:
        provider.present(f"_acme-challenge.{_label()}.example.com", "v")
    assert h.title in str(caught.value)
    assert caught.value.details.get("retry_after") == 1


@http_api
def test_5xx_is_surfaced_after_the_retries(h: Harness) -> None:
    provider = h.provider(retries=2)
    provider.zones()
    served = h.failures_served(503)
    h.fail(503, times=3)
    fqdn = f"_acme-challenge.{_label()}.example.com"
    with pytest.raises(IntegrationError, match=r"failed \(HTTP 503\) after retries") as caught:
        provider.present(fqdn, "v")
    assert h.failures_served(503) == served + 3
    assert h.title in str(caught.value)
    _no_secret_in(h, caught.value)
    h.clear_failures()
    provider.cleanup(fqdn, "v")
    assert h.txt(fqdn) == []


@every
def test_check_changes_nothing(h: Harness) -> None:
    fqdn = f"_acme-challenge.{_label()}.example.org.example.com"
    h.add_other(fqdn, "present-before-check")
    before = h.snapshot()
    provider = h.provider()
    said = provider.check()
    assert h.title in said
    assert h.snapshot() == before
    assert said


@listing
def test_zones_lists_the_editable_zones(h: Harness) -> None:
    assert sorted(h.provider().zones()) == sorted(h.zones)


@every
def test_no_error_holds_a_secret(h: Harness) -> None:
    errors: list[CertvaultError] = []
    for attempt in (lambda: h.provider(bad_credentials=True).zones(),
                    lambda: h.provider().present("_acme-challenge.x.nowhere.invalid", "v")):
        try:
            attempt()
        except CertvaultError as exc:
            errors.append(exc)
    assert len(errors) == 2
    for error in errors:
        _no_secret_in(h, error)

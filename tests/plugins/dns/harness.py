"""One provider under the shared contract test: its server (a faithful fake, moto, BIND...) and how to
build the plugin against it. Each harness factory takes the loopback TLS files and returns a Harness
whose server already holds the zones in ZONES; test_contract.py lists the factories in one table.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from certvault.integrations.service import BoundClients
from certvault.plugins.protocols import DNSProvider, HttpClientFactory
from certvault.plugins.registry import default_registry
from tests.servers.azure_dns_fake import AzureDnsFake
from tests.servers.cloudflare_fake import CloudflareFake
from tests.servers.cloudns_fake import ClouDNSFake
from tests.servers.godaddy_fake import GoDaddyFake
from tests.servers.hosted_dns import FakeDNSAPI
from tests.servers.test_ca import LoopbackTLS

ZONES = ("example.com", "example.net", "sub.example.net", "unrelated.org")


def http_factory(tls: LoopbackTLS, **connection: Any) -> HttpClientFactory:
    """The production client factory (BoundClients) trusting the test CA, with short retry waits."""
    settings = {"trust": "ca_bundle", "ca_bundle": tls.ca_file.read_text(), "backoff": 0.05,
                "max_retry_wait": 10.0, **connection}
    return BoundClients(f"dns:test-{uuid.uuid4().hex}", settings)


def build(plugin: str, options: dict[str, Any], secrets: dict[str, str], http: HttpClientFactory) -> DNSProvider:
    """As the service builds an account's plugin: validated by the registry, then created."""
    default_registry().validate("dns", plugin, options, secrets)
    provider: DNSProvider = default_registry().create("dns", plugin, options, lambda f: secrets.get(f, ""), http)
    return provider


@dataclass
class Harness:
    """What the contract test asks of one provider. Subclass it for a server that is not a FakeDNSAPI."""

    plugin: str  # registry name
    title: str  # how the plugin names the provider in its errors
    options: dict[str, Any]
    secrets: dict[str, str]
    bad_secrets: dict[str, str]  # well-formed but wrong credentials
    tls: LoopbackTLS
    zones: tuple[str, ...] = ZONES

    def provider(self, *, bad_credentials: bool = False, **connection: Any) -> DNSProvider:
        secrets = self.bad_secrets if bad_credentials else self.secrets
        return build(self.plugin, self.options, secrets, http_factory(self.tls, **connection))

    def every_secret(self) -> list[str]:
        return [v for v in [*self.secrets.values(), *self.bad_secrets.values()] if v]

    # ---- the server's side (implemented by FakeHarness; other servers override) -------------------
    def txt(self, fqdn: str) -> list[str]:
        raise NotImplementedError

    def in_zone(self, zone: str, fqdn: str) -> list[str]:
        """TXT values of `fqdn` held in exactly this zone (proves which zone the provider chose)."""
        raise NotImplementedError

    def add_other(self, fqdn: str, value: str) -> None:
        """A record certvault did not write (must survive every cleanup)."""
        raise NotImplementedError

    def snapshot(self) -> object:
        raise NotImplementedError

    def zone_list_calls(self) -> int:
        raise NotImplementedError

    def fail(self, status: int, times: int, retry_after: float | None = None) -> None:
        raise NotImplementedError

    def failures_served(self, status: int) -> int:
        raise NotImplementedError

    def clear_failures(self) -> None:
        pass

    def stop(self) -> None:
        pass


@dataclass
class FakeHarness(Harness):
    fake: FakeDNSAPI | None = None
    is_zone_list: Callable[[str, str], bool] = lambda _m, _p: False

    @property
    def server(self) -> FakeDNSAPI:
        assert self.fake is not None
        return self.fake

    def txt(self, fqdn: str) -> list[str]:
        return self.server.txt(fqdn)

    def in_zone(self, zone: str, fqdn: str) -> list[str]:
        return [r.value for r in self.server.zones[zone] if r.name == fqdn and r.type == "TXT"]

    def add_other(self, fqdn: str, value: str) -> None:
        self.server.add_record(fqdn, value)

    def snapshot(self) -> object:
        return self.server.snapshot()

    def zone_list_calls(self) -> int:
        return sum(1 for _t, m, p in list(self.server.calls) if self.is_zone_list(m, p))

    def fail(self, status: int, times: int, retry_after: float | None = None) -> None:
        self.server.fail(status, times, retry_after)

    def failures_served(self, status: int) -> int:
        return self.server.served.get(status, 0)

    def clear_failures(self) -> None:
        self.server.clear_failures()

    def stop(self) -> None:
        self.server.stop()


def _with_zones(fake: FakeDNSAPI) -> FakeDNSAPI:
    for zone in ZONES:
        fake.add_zone(zone)
    return fake.start()


# ---- the providers ---------------------------------------------------------------------------------

def cloudflare(tls: LoopbackTLS) -> Harness:
    token = "cf-" + uuid.uuid4().hex
    fake = _with_zones(CloudflareFake(tls, tokens={token: None}, zones_per_page=3))  # the listing takes 2 pages
    return FakeHarness("cloudflare", "Cloudflare", {"endpoint": fake.url}, {"api_token": token},
                       {"api_token": "cf-" + uuid.uuid4().hex}, tls, fake=fake,
                       is_zone_list=lambda m, p: m == "GET" and p.strip("/") == "zones")


def cloudflare_global_key(tls: LoopbackTLS) -> Harness:
    key = uuid.uuid4().hex
    fake = _with_zones(CloudflareFake(tls, global_keys={("dns@example.com", key)}))
    return FakeHarness("cloudflare", "Cloudflare", {"endpoint": fake.url, "email": "dns@example.com"},
                       {"api_key": key}, {"api_key": uuid.uuid4().hex}, tls, fake=fake,
                       is_zone_list=lambda m, p: m == "GET" and p.strip("/") == "zones")


def godaddy(tls: LoopbackTLS) -> Harness:
    key, secret = "gd-" + uuid.uuid4().hex[:12], uuid.uuid4().hex
    fake = _with_zones(GoDaddyFake(tls, keys={key: secret}))
    return FakeHarness("godaddy", "GoDaddy", {"endpoint": fake.url}, {"api_key": key, "api_secret": secret},
                       {"api_key": key, "api_secret": uuid.uuid4().hex}, tls, fake=fake,
                       is_zone_list=lambda m, p: m == "GET" and p.strip("/") == "v1/domains")


def azure(tls: LoopbackTLS) -> Harness:
    tenant, client, secret = str(uuid.uuid4()), str(uuid.uuid4()), "az~" + uuid.uuid4().hex
    fake = _with_zones(AzureDnsFake(tls, apps={(tenant, client): secret}, subscription=str(uuid.uuid4()),
                                    resource_group="dns-rg", page_size=3))
    options = {"endpoint": fake.url, "authority_url": fake.authority_url, "subscription_id": fake.subscription,
               "tenant_id": tenant, "client_id": client, "resource_group": "dns-rg"}
    return FakeHarness("azure", "Azure DNS", options, {"client_secret": secret},
                       {"client_secret": "az~" + uuid.uuid4().hex}, tls, fake=fake,
                       is_zone_list=lambda m, p: m == "GET" and p.lower().endswith("/dnszones"))


def cloudns(tls: LoopbackTLS) -> Harness:
    auth_id, password = "4" + str(uuid.uuid4().int)[:5], "cd-" + uuid.uuid4().hex
    fake = _with_zones(ClouDNSFake(tls, auth_ids={auth_id: password}, sync_polls=2))
    return FakeHarness("cloudns", "ClouDNS", {"endpoint": fake.url, "auth_id": auth_id, "polling_interval": 0.05},
                       {"auth_password": password}, {"auth_password": "cd-" + uuid.uuid4().hex}, tls, fake=fake,
                       is_zone_list=lambda m, p: p.strip("/") == "dns/list-zones.json")

"""What is particular to each hosted provider, against its fake over real HTTPS: Azure's If-Match conflict
and token refresh, GoDaddy's 403 for small accounts, ClouDNS's update-status wait and sub-users,
Cloudflare's two auth forms and scoped tokens; the generated CLI flags; an account added through the
service (pacing defaults, test connection); a fake writing through to a real BIND9."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from certvault.auth.rbac import Actor
from certvault.cli.integrations import plugin_parameters
from certvault.container import App
from certvault.errors import IntegrationError, InvalidInput
from certvault.plugins.dns.godaddy import OTE
from certvault.plugins.dns.hosted import ZONES as ZONE_CACHE
from certvault.plugins.registry import default_registry
from tests.plugins.dns.harness import ZONES, build, http_factory
from tests.servers.azure_dns_fake import AzureDnsFake
from tests.servers.bind9 import Bind9, bind9
from tests.servers.cloudflare_fake import CloudflareFake
from tests.servers.cloudns_fake import ClouDNSFake
from tests.servers.godaddy_fake import GoDaddyFake
from tests.servers.test_ca import LoopbackTLS, make_loopback_tls

ADMIN = Actor.system("test-admin", via="cli")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LoopbackTLS:
    return make_loopback_tls(tmp_path_factory.mktemp("dns-tls"))


@pytest.fixture(autouse=True)
def _fresh_zone_cache() -> None:
    ZONE_CACHE.forget()


def _name() -> str:
    return f"_acme-challenge.{uuid.uuid4().hex[:10]}.example.com"


# ---- Azure DNS -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def azure(tls: LoopbackTLS) -> Iterator[tuple[AzureDnsFake, dict[str, Any]]]:
    tenant, client = str(uuid.uuid4()), str(uuid.uuid4())
    fake = AzureDnsFake(tls, apps={(tenant, client): "s3cret-value"}, subscription="sub-1", resource_group="rg")
    for zone in ZONES:
        fake.add_zone(zone)
    fake.start()
    yield fake, {"endpoint": fake.url, "authority_url": fake.authority_url, "subscription_id": "sub-1",
                 "tenant_id": tenant, "client_id": client, "resource_group": "rg"}
    fake.stop()


def test_azure_a_concurrent_writer_meets_if_match_and_both_values_stay(
        azure: tuple[AzureDnsFake, dict[str, Any]], tls: LoopbackTLS) -> None:
    fake, options = azure
    provider = build("azure", options, {"client_secret": "s3cret-value"}, http_factory(tls))
    fqdn = _name()
    provider.present(fqdn, "first")
    puts = fake.count("PUT", "/TXT/")
    fake.race(fqdn, "another-writers-value")  # lands between our read and our write
    provider.present(fqdn, "second")
    assert fake.count("PUT", "/TXT/") == puts + 2  # refused with 412, read again, merged, written
    assert sorted(fake.txt(fqdn)) == ["another-writers-value", "first", "second"]
    fake.race(fqdn, "late-value")
    provider.cleanup(fqdn, "first")
    provider.cleanup(fqdn, "second")
    assert sorted(fake.txt(fqdn)) == ["another-writers-value", "late-value"]


def test_azure_token_is_shared_and_fetched_again_when_expired(
        azure: tuple[AzureDnsFake, dict[str, Any]], tls: LoopbackTLS) -> None:
    fake, options = azure
    one = build("azure", options, {"client_secret": "s3cret-value"}, http_factory(tls))
    two = build("azure", options, {"client_secret": "s3cret-value"}, http_factory(tls))
    one.zones()  # the account's token, held for the process (possibly since an earlier test)
    fake.expire_tokens()
    before = fake.token_calls()
    ZONE_CACHE.forget()
    one.zones()  # refused as expired: fetched again once
    two.present(fqdn := _name(), "v")
    assert fake.token_calls() == before + 1  # the second object of the account used the same token
    fake.expire_tokens()
    two.cleanup(fqdn, "v")
    assert fake.token_calls() == before + 2
    assert fake.txt(fqdn) == []


@pytest.mark.parametrize(("change", "words"), [
    ({"tenant_id": "no-such-tenant"}, "AADSTS90002"),
    ({"client_id": "no-such-app"}, "AADSTS700016"),
])
def test_azure_unknown_tenant_or_application_is_a_credentials_error(
        azure: tuple[AzureDnsFake, dict[str, Any]], tls: LoopbackTLS, change: dict[str, str], words: str) -> None:
    _fake, options = azure
    provider = build("azure", {**options, **change}, {"client_secret": "s3cret-value"}, http_factory(tls))
    with pytest.raises(IntegrationError, match="Azure DNS rejected the credentials") as caught:
        provider.check()
    assert words in str(caught.value)
    assert "s3cret-value" not in str(caught.value)


def test_azure_cloud_picks_the_authority_and_management_endpoints() -> None:
    options = {"subscription_id": "s", "tenant_id": "t", "client_id": "c", "resource_group": "g", "cloud": "china"}
    provider = build("azure", options, {"client_secret": "x"}, lambda **_: None)  # type: ignore[arg-type,return-value]
    assert provider.endpoint == "https://management.chinacloudapi.cn"  # type: ignore[attr-defined]
    assert provider.authority == "https://login.chinacloudapi.cn"  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match="cloud"):
        default_registry().validate("dns", "azure", {**options, "cloud": "mars"}, {"client_secret": "x"})


def test_azure_managed_identity_through_the_service(
        azure: tuple[AzureDnsFake, dict[str, Any]], sqlite_app: App, tls: LoopbackTLS,
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake, options = azure
    identity_url = fake.start_identity_endpoint({"system", "user-assigned-1"})
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_file))  # the fake ARM's CA in the system store
    managed = {"endpoint": fake.url, "subscription_id": "sub-1", "resource_group": "rg", "managed_identity": True,
               "identity_endpoint": identity_url}
    with sqlite_app.transaction() as svc:
        system = svc.integrations.add(ADMIN, "dns", "azure", "mi-system", managed, {})
        user = svc.integrations.add(ADMIN, "dns", "azure", "mi-user", {**managed, "client_id": "user-assigned-1"}, {})
        stranger = svc.integrations.add(ADMIN, "dns", "azure", "mi-other", {**managed, "client_id": "not-attached"},
                                        {})
        providers = [svc.integrations.dns_provider(a) for a in (system, user, stranger)]
    for provider in providers[:2]:
        provider.present(fqdn := _name(), "by-identity")
        assert fake.txt(fqdn) == ["by-identity"]
        provider.cleanup(fqdn, "by-identity")
    assert fake.count("GET", "identity/metadata") >= 2
    with pytest.raises(IntegrationError, match="rejected the credentials .*Identity not found.*managed identity"):
        providers[2].check()
    registry = default_registry()
    with pytest.raises(InvalidInput, match="--tenant-id and --client-id are required"):
        registry.validate("dns", "azure", {"subscription_id": "s", "resource_group": "g"}, {"client_secret": "x"})
    with pytest.raises(InvalidInput, match="--client-secret is required unless --managed-identity"):
        registry.validate("dns", "azure", {**options}, {})
    with pytest.raises(InvalidInput, match="endpoint: .*https://"):
        registry.validate("dns", "azure", {**options, "endpoint": "http://127.0.0.1:1"}, {"client_secret": "x"})
    with pytest.raises(InvalidInput, match="identity_endpoint: .*only to the machine itself"):
        registry.validate("dns", "azure", {**managed, "identity_endpoint": "http://example.com/token"}, {})


# ---- GoDaddy ---------------------------------------------------------------------------------------

def test_godaddy_403_for_small_accounts_is_said_in_plain_words(tls: LoopbackTLS) -> None:
    fake = GoDaddyFake(tls, keys={"key": "secret-1"}, api_allowed=False)
    fake.add_zone("example.com")
    fake.start()
    try:
        provider = build("godaddy", {"endpoint": fake.url}, {"api_key": "key", "api_secret": "secret-1"},
                         http_factory(tls))
        with pytest.raises(IntegrationError) as caught:
            provider.check()
        text = str(caught.value)
        assert text.startswith("GoDaddy refused listing domains (HTTP 403)")
        assert "10 or more domains" in text and "Discount Domain Club" in text
        assert "secret-1" not in text
    finally:
        fake.stop()


def test_a_zone_deleted_since_it_was_listed_is_listed_again(tls: LoopbackTLS) -> None:
    fake = GoDaddyFake(tls, keys={"key": "secret-2"})
    for zone in ZONES:
        fake.add_zone(zone)
    fake.start()
    try:
        provider = build("godaddy", {"endpoint": fake.url}, {"api_key": "key", "api_secret": "secret-2"},
                         http_factory(tls))
        assert "example.net" in provider.zones()
        del fake.zones["example.net"]
        with pytest.raises(IntegrationError, match=r"GoDaddy found no such zone or record .*UNKNOWN_DOMAIN"):
            provider.present("_acme-challenge.www.example.net", "v")
        with pytest.raises(IntegrationError, match="no zone these credentials can edit contains"):
            provider.present("_acme-challenge.www.example.net", "v")
    finally:
        fake.stop()


def test_godaddy_ote_and_its_minimum_ttl() -> None:
    provider = build("godaddy", {"ote": True}, {"api_key": "k", "api_secret": "s"},
                     lambda **_: None)  # type: ignore[arg-type,return-value]
    assert provider.endpoint == OTE  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match="ttl"):
        default_registry().validate("dns", "godaddy", {"ttl": 120}, {"api_key": "k", "api_secret": "s"})


# ---- ClouDNS ---------------------------------------------------------------------------------------

def test_cloudns_present_waits_for_every_name_server(tls: LoopbackTLS) -> None:
    fake = ClouDNSFake(tls, auth_ids={"100": "pw-123456"}, sync_polls=3)
    fake.add_zone("example.com")
    fake.start()
    try:
        provider = build("cloudns", {"endpoint": fake.url, "auth_id": "100", "polling_interval": 0.05},
                         {"auth_password": "pw-123456"}, http_factory(tls))
        provider.present(fqdn := _name(), "v")
        assert fake.count("POST", "update-status") == 4  # three "not yet", then all updated
        assert fake.pending["example.com"] == 0
        fake.sync_polls = 10**6  # a zone that never syncs: a plain timeout
        slow = build("cloudns", {"endpoint": fake.url, "auth_id": "100", "polling_interval": 0.05,
                                 "propagation_timeout": 0.3}, {"auth_password": "pw-123456"}, http_factory(tls))
        with pytest.raises(IntegrationError, match=r"3 name server\(s\) of example.com did not take the change"):
            slow.present(_name(), "w")
        provider.cleanup(fqdn, "v")
        assert fake.txt(fqdn) == []
    finally:
        fake.stop()


def test_cloudns_sub_user_sees_only_its_zones(tls: LoopbackTLS) -> None:
    fake = ClouDNSFake(tls, sub_auth_users={"acme": ("pw-abcdef", {"example.net"})}, sync_polls=0)
    for zone in ZONES:
        fake.add_zone(zone)
    fake.start()
    try:
        provider = build("cloudns", {"endpoint": fake.url, "sub_auth_user": "acme"}, {"auth_password": "pw-abcdef"},
                         http_factory(tls))
        assert provider.zones() == ["example.net"]
        with pytest.raises(IntegrationError, match="ClouDNS: no zone these credentials can edit contains"):
            provider.present(_name(), "v")
        provider.present(fqdn := "_acme-challenge.www.example.net", "v")
        assert fake.in_zone_values("example.net", fqdn) == ["v"]
        provider.cleanup(fqdn, "v")
    finally:
        fake.stop()
    with pytest.raises(InvalidInput, match="exactly one of --auth-id, --sub-auth-id or --sub-auth-user"):
        default_registry().validate("dns", "cloudns", {"auth_id": "1", "sub_auth_user": "u"}, {"auth_password": "p"})


# ---- Cloudflare ------------------------------------------------------------------------------------

def test_cloudflare_auth_forms_are_one_or_the_other() -> None:
    registry = default_registry()
    with pytest.raises(InvalidInput, match="either --api-token, or --email with --api-key"):
        registry.validate("dns", "cloudflare", {"email": "a@example.com"}, {"api_token": "t", "api_key": "k"})
    with pytest.raises(InvalidInput, match="needs --email"):
        registry.validate("dns", "cloudflare", {}, {"api_key": "k"})
    registry.validate("dns", "cloudflare", {"email": "a@example.com"}, {"api_key": "k"})
    registry.validate("dns", "cloudflare", {}, {"api_token": "t"})


def test_cloudflare_scoped_token_lists_and_edits_only_its_zones(tls: LoopbackTLS) -> None:
    fake = CloudflareFake(tls, tokens={"scoped-token": {"example.com"}}, global_keys={("a@example.com", "gk-1")})
    for zone in ZONES:
        fake.add_zone(zone)
    fake.add_record("_acme-challenge.quoted.example.com", '"quoted-value"')  # as Cloudflare may store it
    fake.start()
    try:
        scoped = build("cloudflare", {"endpoint": fake.url}, {"api_token": "scoped-token"}, http_factory(tls))
        assert scoped.zones() == ["example.com"]
        assert "1 zone editable: example.com" in scoped.check()
        scoped.cleanup("_acme-challenge.quoted.example.com", "quoted-value")
        assert fake.txt("_acme-challenge.quoted.example.com") == []
        with pytest.raises(IntegrationError, match="no zone these credentials can edit contains"):
            scoped.present("_acme-challenge.www.example.net", "v")
        wrong_email = build("cloudflare", {"endpoint": fake.url, "email": "b@example.com"}, {"api_key": "gk-1"},
                            http_factory(tls))
        with pytest.raises(IntegrationError, match="Cloudflare rejected the credentials .*9103"):
            wrong_email.zones()
    finally:
        fake.stop()


# ---- the generated CLI and the service ---------------------------------------------------------------

@pytest.mark.parametrize(("plugin", "flags"), [
    ("cloudflare", {"--api-token", "--email", "--api-key", "--endpoint"}),
    ("azure", {"--subscription-id", "--tenant-id", "--client-id", "--client-secret", "--resource-group", "--cloud",
               "--endpoint", "--authority-url"}),
    ("godaddy", {"--api-key", "--api-secret", "--ote/--no-ote", "--endpoint"}),
    ("cloudns", {"--auth-id", "--sub-auth-id", "--sub-auth-user", "--auth-password", "--endpoint"}),
])
def test_dns_account_add_has_the_issues_flags(plugin: str, flags: set[str]) -> None:
    params = plugin_parameters(default_registry().get("dns", plugin), for_update=False)
    declared = {decl for p in params for decl in p.default.param_decls}
    assert flags <= declared


def test_an_account_added_through_the_service_is_paced_and_tested(
        sqlite_app: App, tls: LoopbackTLS, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = GoDaddyFake(tls, keys={"gd-key": "gd-secret"})
    for zone in ZONES:
        fake.add_zone(zone)
    fake.start()
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_file))  # the system store, as a deployment's would hold it
    try:
        with sqlite_app.transaction() as svc:
            account = svc.integrations.add(ADMIN, "dns", "godaddy", "gd", {"endpoint": fake.url},
                                           {"api_key": "gd-key", "api_secret": "gd-secret"})
            said = svc.integrations.check(ADMIN, "dns", account.id)
            http = svc.integrations.http_for(account)
        assert said.startswith(f"GoDaddy at 127.0.0.1 accepted the credentials; {len(ZONES)} zones editable")
        assert http._connection["pacing_requests"] == 5  # type: ignore[attr-defined]
        assert http._connection["pacing_interval"] == 6.0  # type: ignore[attr-defined]
    finally:
        fake.stop()


# ---- write-through (for the Pebble end-to-end test) --------------------------------------------------

@pytest.fixture(scope="module")
def named() -> Bind9:
    return bind9()


def _writing_through(kind: str, tls: LoopbackTLS, named: Bind9) -> tuple[Any, dict[str, Any], dict[str, str]]:
    if kind == "cloudflare":
        return CloudflareFake(tls, tokens={"t": None}, write_through=named), {}, {"api_token": "t"}
    if kind == "godaddy":
        return GoDaddyFake(tls, keys={"k": "s"}, write_through=named), {}, {"api_key": "k", "api_secret": "s"}
    if kind == "cloudns":
        return (ClouDNSFake(tls, auth_ids={"7": "pw-wt"}, sync_polls=0, write_through=named), {"auth_id": "7"},
                {"auth_password": "pw-wt"})
    fake = AzureDnsFake(tls, apps={("t", "c"): "s"}, subscription="s", resource_group="g",
                        write_through=lambda fqdn, values: named.replace(fqdn, "TXT", values))  # the callable form
    return fake, {"authority_url": fake.authority_url, "subscription_id": "s", "tenant_id": "t", "client_id": "c",
                  "resource_group": "g"}, {"client_secret": "s"}


@pytest.mark.parametrize("kind", ["azure", "cloudflare", "cloudns", "godaddy"])
def test_a_fake_writes_through_to_bind(tls: LoopbackTLS, named: Bind9, kind: str) -> None:
    fake, options, secrets = _writing_through(kind, tls, named)
    fake.add_zone("bind.test")
    fake.start()
    try:
        provider = build(kind, {**options, "endpoint": fake.url}, secrets, http_factory(tls))
        fqdn = f"_acme-challenge.{uuid.uuid4().hex[:8]}.bind.test"
        provider.present(fqdn, "one")
        provider.present(fqdn, "two")
        assert sorted(named.txt(fqdn)) == ["one", "two"]
        provider.cleanup(fqdn, "one")
        assert named.txt(fqdn) == ["two"]
        provider.cleanup(fqdn, "two")
        assert named.txt(fqdn) == []
    finally:
        fake.stop()

"""The RFC 2136 provider against a real BIND9 with TSIG, and the plugin registry."""

from __future__ import annotations

import base64
import os
import uuid

import pytest

from certvault.errors import IntegrationError, InvalidInput, NotFound
from certvault.plugins.protocols import NameServer
from certvault.plugins.registry import PluginRegistry, default_registry
from tests.servers.bind9 import Bind9, bind9


@pytest.fixture(scope="module")
def named() -> Bind9:
    return bind9()


def _provider(named: Bind9, secret: str | None = None, **options: object) -> object:
    opts = {"server": named.address, "key_name": named.key_name, "algorithm": "hmac-sha256", **options}
    secrets = {"key_secret": secret or named.secret}
    default_registry().validate("dns", "rfc2136", opts, secrets)
    return default_registry().create("dns", "rfc2136", opts, secrets.__getitem__)


def test_present_and_cleanup_publish_and_remove_exactly_one_value(named: Bind9) -> None:
    provider = _provider(named)
    fqdn = f"_acme-challenge.{uuid.uuid4().hex[:8]}.bind.test"
    provider.present(fqdn, "value-one")  # type: ignore[attr-defined]
    provider.present(fqdn, "value-two")  # type: ignore[attr-defined]
    assert sorted(named.txt(fqdn)) == ["value-one", "value-two"]
    provider.cleanup(fqdn, "value-one")  # type: ignore[attr-defined]
    assert named.txt(fqdn) == ["value-two"]
    provider.cleanup(fqdn, "value-two")  # type: ignore[attr-defined]
    provider.cleanup(fqdn, "value-two")  # type: ignore[attr-defined]  # already gone: no error
    assert named.txt(fqdn) == []
    assert provider.visibility_servers(fqdn) == [NameServer("127.0.0.1", named.port)]  # type: ignore[attr-defined]


def test_wrong_tsig_secret_is_named(named: Bind9) -> None:
    provider = _provider(named, secret=base64.b64encode(os.urandom(32)).decode(), zone="bind.test")
    with pytest.raises(IntegrationError, match="rejected the TSIG signature.*key secret is wrong"):
        provider.present("_acme-challenge.x.bind.test", "v")  # type: ignore[attr-defined]


def test_names_outside_the_servers_zones_are_refused(named: Bind9) -> None:
    with pytest.raises(IntegrationError, match="no zone for .*set the zone"):
        _provider(named).present("_acme-challenge.www.elsewhere.example", "v")  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match="not in the DNS account's zone"):
        _provider(named, zone="bind.test").present("_acme-challenge.a.other.test", "v")  # type: ignore[attr-defined]


def test_options_and_secrets_are_validated_with_the_field_named() -> None:
    registry = default_registry()
    with pytest.raises(InvalidInput, match="server: .*not HOST:PORT"):
        registry.validate("dns", "rfc2136", {"server": "ns:99999", "key_name": "k"}, {"key_secret": "AA=="})
    with pytest.raises(InvalidInput, match="algorithm: .*choose one of"):
        registry.validate("dns", "rfc2136", {"server": "ns:53", "key_name": "k", "algorithm": "md5"},
                          {"key_secret": "AA=="})
    with pytest.raises(InvalidInput, match="missing secret key_secret"):
        registry.validate("dns", "rfc2136", {"server": "ns:53", "key_name": "k"}, {})
    with pytest.raises(InvalidInput, match="key_secret is a secret"):
        registry.validate("dns", "rfc2136", {"server": "ns:53", "key_name": "k", "key_secret": "x"},
                          {"key_secret": "x"})
    with pytest.raises(InvalidInput, match="must be base64"):
        registry.create("dns", "rfc2136", {"server": "ns:53", "key_name": "k"},
                        {"key_secret": "not base64!"}.__getitem__)
    with pytest.raises(NotFound, match="unknown DNS provider 'nope'; choose one of: .*rfc2136"):
        registry.get("dns", "nope")


def test_plugins_can_be_registered_at_run_time() -> None:
    registry = PluginRegistry(discover=False)
    registry.register("dns", "inline", "certvault.plugins.dns.rfc2136:Rfc2136Provider")
    assert "inline" in registry.names("dns") and registry.get("dns", "inline").secret_fields == ("key_secret",)

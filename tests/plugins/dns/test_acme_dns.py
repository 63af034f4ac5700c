"""acme-dns against a fake of its API over HTTPS: register, update (two values kept), credentials
refused in plain words; and `certvault dns-account add acme-dns --register` through the real command,
which prints the CNAME to create, then `test`, `disable` and `enable`."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from certvault.errors import IntegrationError, InvalidInput
from certvault.plugins.dns.acme_dns import AcmeDnsProvider
from certvault.plugins.registry import default_registry
from tests.plugins.dns.harness import http_factory
from tests.servers.acme_dns_fake import AcmeDnsFake
from tests.servers.certvault_server import certvault_cli
from tests.servers.test_ca import LoopbackTLS, make_loopback_tls

VALUE_A, VALUE_B, VALUE_C = ("a" * 43, "b" * 43, "c" * 43)


@pytest.fixture(scope="module")
def tls() -> LoopbackTLS:
    return make_loopback_tls(Path(tempfile.mkdtemp(prefix="cv-acmedns-tls-")))


@pytest.fixture(scope="module")
def fake(tls: LoopbackTLS) -> Iterator[AcmeDnsFake]:
    server = AcmeDnsFake(tls, zone="auth.acmedns.test").start()
    yield server
    server.stop()


def _provider(fake: AcmeDnsFake, tls: LoopbackTLS, password: str | None = None) -> AcmeDnsProvider:
    made = fake.register()
    options = {"server": fake.url, "username": made["username"], "subdomain": made["subdomain"],
               "fulldomain": made["fulldomain"]}
    secrets = {"password": password or made["password"]}
    default_registry().validate("dns", "acme-dns", options, secrets)
    provider = default_registry().create("dns", "acme-dns", options, secrets.get, http_factory(tls))
    assert isinstance(provider, AcmeDnsProvider)
    return provider


def test_register_then_update_keeps_the_two_latest_values(fake: AcmeDnsFake, tls: LoopbackTLS) -> None:
    options, secrets = AcmeDnsProvider.register({"server": fake.url}, http_factory(tls))
    assert options["fulldomain"] == f"{options['subdomain']}.auth.acmedns.test" and len(secrets["password"]) == 40
    default_registry().validate("dns", "acme-dns", options, secrets)
    provider = default_registry().create("dns", "acme-dns", options, secrets.get, http_factory(tls))
    assert provider.zones() == [options["fulldomain"]]  # type: ignore[attr-defined]
    assert "acme-dns at" in provider.check()  # type: ignore[attr-defined]
    provider.present("_acme-challenge.example.com", VALUE_A)  # type: ignore[attr-defined]
    provider.present("_acme-challenge.example.com", VALUE_B)  # type: ignore[attr-defined]  # the wildcard's
    assert sorted(fake.txt(options["fulldomain"])) == [VALUE_A, VALUE_B]
    provider.present("_acme-challenge.example.com", VALUE_C)  # type: ignore[attr-defined]
    assert sorted(fake.txt(options["fulldomain"])) == [VALUE_B, VALUE_C]
    provider.cleanup("_acme-challenge.example.com", VALUE_C)  # type: ignore[attr-defined]  # no delete call


def test_a_wrong_password_is_refused_in_plain_words_without_the_secret(fake: AcmeDnsFake, tls: LoopbackTLS) -> None:
    wrong = "w" * 40
    provider = _provider(fake, tls, password=wrong)
    with pytest.raises(IntegrationError, match="refused the username or password") as caught:
        provider.present("_acme-challenge.example.com", VALUE_A)
    assert wrong not in str(caught.value)


def test_a_registration_must_be_complete_or_made(fake: AcmeDnsFake) -> None:
    with pytest.raises(InvalidInput, match="--register"):
        default_registry().validate("dns", "acme-dns", {"server": fake.url, "username": "u"}, {})
    with pytest.raises(InvalidInput, match="server"):
        default_registry().validate("dns", "acme-dns", {"server": "auth.example.org"}, {})


def test_the_command_registers_prints_the_cname_and_tests_the_account(
        fake: AcmeDnsFake, tls: LoopbackTLS, tmp_path: Path) -> None:
    data, env = tmp_path / "data", {"SSL_CERT_FILE": str(tls.ca_file)}  # the fake's CA, trusted system-wide
    added = certvault_cli(data, "dns-account", "add", "acme-dns", "--name", "delegated", "--server", fake.url,
                          "--register", "--json", env=env)
    account = json.loads(added.stdout)  # only JSON on stdout
    fulldomain = account["options"]["fulldomain"]
    assert f"CNAME {fulldomain}." in added.stderr and account["secret_fields"] == ["password"]
    assert account["options"]["username"] in fake.users
    tested = certvault_cli(data, "dns-account", "test", account["id"], "--json", env=env)
    assert json.loads(tested.stdout) == {"ok": True, "zones": [fulldomain]}
    certvault_cli(data, "dns-account", "disable", account["id"], env=env)
    listed = json.loads(certvault_cli(data, "dns-account", "list", "--json", env=env).stdout)
    assert [a["enabled"] for a in listed] == [False]
    certvault_cli(data, "dns-account", "enable", "delegated", env=env)
    plain = certvault_cli(data, "dns-account", "add", "acme-dns", "--name", f"d-{uuid.uuid4().hex[:4]}",
                          "--server", fake.url, "--register", env=env)
    assert "_acme-challenge.example.com. CNAME" in plain.stdout

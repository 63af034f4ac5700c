"""Route 53 specifics beyond the shared contract: moto in server mode over HTTP, boto3 unchanged, the
SigV4 signature checked in front of it. Throttling is retried, the change is followed to INSYNC, the
record set is written whole, calls are paced, and no credentials means the AWS chain."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from certvault.errors import IntegrationError, InvalidInput
from certvault.plugins.dns.hosted import ZONES as ZONE_CACHE
from certvault.plugins.dns.route53 import Route53Provider
from certvault.plugins.registry import default_registry
from tests.servers.certvault_server import certvault_cli
from tests.servers.moto_server import ACCESS_KEY, SECRET_KEY, MotoServer


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer(Path(tempfile.mkdtemp(prefix="cv-moto-r53-"))).start()
    server.create_zone("aws.test")
    yield server
    server.stop()


def _provider(moto: MotoServer, **options: object) -> Route53Provider:
    opts = {"endpoint": moto.endpoint, "access_key_id": ACCESS_KEY, "polling_interval": 0.1, **options}
    default_registry().validate("dns", "route53", opts, {"secret_access_key": SECRET_KEY})
    ZONE_CACHE.forget()
    provider = default_registry().create("dns", "route53", opts, {"secret_access_key": SECRET_KEY}.get)
    assert isinstance(provider, Route53Provider)
    return provider


def test_one_upsert_carries_the_whole_set_and_the_change_is_followed_to_insync(moto: MotoServer) -> None:
    provider = _provider(moto)
    fqdn = f"_acme-challenge.{uuid.uuid4().hex[:8]}.aws.test"
    provider.zones()
    before = moto.calls()
    provider.present(fqdn, "first")
    provider.present(fqdn, "second")
    after = moto.calls()
    changes = after.get("POST /2013-04-01/hostedzone/{id}/rrset/", 0) - before.get(
        "POST /2013-04-01/hostedzone/{id}/rrset/", 0)
    assert changes == 2  # one UPSERT per value, each with the whole set
    assert after.get("GET /2013-04-01/change/{id}", 0) > before.get("GET /2013-04-01/change/{id}", 0)
    zone_id = provider._zone_map()["aws.test"]
    assert sorted(moto.txt(zone_id, fqdn)) == ["first", "second"]
    provider.cleanup(fqdn, "first")
    provider.cleanup(fqdn, "second")
    assert moto.txt(zone_id, fqdn) == []


def test_throttling_is_retried_by_boto3_and_words_the_limit_when_it_persists(moto: MotoServer) -> None:
    provider = _provider(moto)
    provider.zones()
    fqdn = f"_acme-challenge.{uuid.uuid4().hex[:8]}.aws.test"
    moto.fail(400, times=2, code="Throttling")
    provider.present(fqdn, "after-throttling")  # standard retry mode: throttled calls are tried again
    assert moto.txt(provider._zone_map()["aws.test"], fqdn) == ["after-throttling"]
    moto.fail(400, times=10, code="Throttling")
    with pytest.raises(IntegrationError, match="Route 53 .*Throttling.*rate limiting"):
        provider.cleanup(fqdn, "after-throttling")
    moto.fail(400, times=0)
    provider.cleanup(fqdn, "after-throttling")


def test_calls_are_paced_under_five_per_second(moto: MotoServer) -> None:
    provider = _provider(moto)
    other = _provider(moto)  # another object of the same account shares its pacer
    assert other.pacer is provider.pacer
    before, started = provider.pacer.calls, time.monotonic()
    for i in range(11):
        (provider if i % 2 else other).check()
    # 11 calls 0.2 s apart cannot finish in under 2 s whatever the machine's load (a lower bound only)
    assert time.monotonic() - started >= 2.0
    assert provider.pacer.calls - before == 11


def test_a_hosted_zone_id_limits_the_account_to_that_zone(moto: MotoServer) -> None:
    other = moto.create_zone(f"z{uuid.uuid4().hex[:6]}.test")
    provider = _provider(moto, hosted_zone_id=f"/hostedzone/{other}")
    assert provider.options.hosted_zone_id == other
    assert len(provider.zones()) == 1 and provider.zones()[0].endswith(".test")
    with pytest.raises(IntegrationError, match="no zone .*hosted zone"):
        provider.present("_acme-challenge.www.aws.test", "v")


def test_access_key_and_secret_come_together_or_not_at_all(moto: MotoServer) -> None:
    registry = default_registry()
    with pytest.raises(InvalidInput, match="both the access key id and the secret"):
        registry.validate("dns", "route53", {"access_key_id": ACCESS_KEY}, {})
    with pytest.raises(InvalidInput, match="both the access key id and the secret"):
        registry.validate("dns", "route53", {}, {"secret_access_key": SECRET_KEY})
    with pytest.raises(InvalidInput, match="endpoint"):
        registry.validate("dns", "route53", {"endpoint": "ftp://x"}, {})


def test_without_keys_the_aws_credential_chain_is_used(moto: MotoServer, monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    """No key on the account: boto3 reads the standard chain (here a profile in a credentials file)."""
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[dns]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_PROFILE", "dns")
    default_registry().validate("dns", "route53", {"endpoint": moto.endpoint}, {})
    ZONE_CACHE.forget()
    provider = default_registry().create("dns", "route53", {"endpoint": moto.endpoint}, lambda _f: "")
    assert "aws.test" in provider.zones()  # type: ignore[attr-defined]
    monkeypatch.setenv("AWS_PROFILE", "missing")
    ZONE_CACHE.forget()
    stranger = default_registry().create("dns", "route53", {"endpoint": moto.endpoint}, lambda _f: "")
    with pytest.raises(IntegrationError, match="Route 53: the AWS credential chain failed .*missing"):
        stranger.check()  # type: ignore[attr-defined]


def test_the_command_adds_and_tests_an_account_listing_its_zones(moto: MotoServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    added = json.loads(certvault_cli(data, "dns-account", "add", "route53", "--name", "aws", "--access-key-id",
                                     ACCESS_KEY, "--secret-access-key", SECRET_KEY, "--endpoint", moto.endpoint,
                                     "--json").stdout)
    assert SECRET_KEY not in json.dumps(added) and added["secret_fields"] == ["secret_access_key"]
    tested = json.loads(certvault_cli(data, "dns-account", "test", "aws", "--json").stdout)
    assert tested["ok"] is True and "aws.test" in tested["zones"]
    certvault_cli(data, "dns-account", "update", "aws", "--secret-access-key", "wrong-secret")
    refused = certvault_cli(data, "dns-account", "test", added["id"], "--json", check=False)
    assert refused.returncode == 1
    answer = json.loads(refused.stdout)
    assert answer["ok"] is False and "SignatureDoesNotMatch" in answer["error"]
    assert "wrong-secret" not in answer["error"]

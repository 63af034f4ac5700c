"""The real `certvault` command end to end: account, RFC 2136 DNS account on BIND9 (TSIG), a wildcard +
apex order that Pebble validates against BIND, status --json, renew, revoke; a wrong TSIG secret
fails with the reason and stores nothing."""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.servers import pebble as servers
from tests.servers.bind9 import Bind9, bind9
from tests.servers.certvault_server import certvault_cli


@pytest.fixture(scope="module")
def stack() -> tuple[Bind9, servers.Pebble]:
    named = bind9()
    ca = servers.shared("pebble-bind9", lambda: servers.Pebble(Path(tempfile.mkdtemp(prefix="cv-pebble-bind-")),
                                                               dns_server=named.address).start())
    return named, ca


def _cli(data: Path, *args: str, check: bool = True) -> dict:  # type: ignore[type-arg]
    result = certvault_cli(data, *args, check=check)
    if result.returncode != 0:
        return {"_error": result.stderr, "_code": result.returncode}
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_cli_issues_renews_and_revokes_through_rfc2136(tmp_path: Path, stack: tuple[Bind9, servers.Pebble]) -> None:
    named, ca = stack
    data = tmp_path / "data"
    account = _cli(data, "acme", "account", "register", "--directory", ca.directory_url, "--email",
                   "ops@bind.test", "--agree-tos", "--ca-bundle", str(ca.tls_ca), "--json")
    assert account["status"] == "valid"
    dns = _cli(data, "dns-account", "add", "rfc2136", "--server", named.address, "--key-name", named.key_name,
               "--key-secret", named.secret, "--algorithm", "hmac-sha256", "--zone", "bind.test", "--json")
    assert named.secret not in json.dumps(dns) and dns["secret_fields"] == ["key_secret"]  # in the vault
    apex = f"a{uuid.uuid4().hex[:8]}.bind.test"
    order = _cli(data, "acme", "request", "--account", account["id"], "--domain", apex, "--domain", f"*.{apex}",
                 "--challenge", "dns-01", "--dns-account", dns["id"], "--wait", "--json")
    assert order["status"] == "available", order
    status = _cli(data, "acme", "status", order["id"], "--json")
    assert status["certificate_id"] == order["certificate_id"] and sorted(status["names"]) == sorted(
        [apex, f"*.{apex}"])
    assert named.txt(f"_acme-challenge.{apex}") == []  # cleaned up after issuance
    renewed = _cli(data, "acme", "renew", order["certificate_id"], "--wait", "--json")
    assert renewed["status"] == "available" and renewed["certificate_id"] == order["certificate_id"]
    certvault_cli(data, "acme", "revoke", order["certificate_id"], "--reason", "4")
    assert ca.cert_status(int(renewed["serial"], 16))["Status"] == "Revoked"


def test_wrong_tsig_secret_fails_with_the_reason(tmp_path: Path, stack: tuple[Bind9, servers.Pebble]) -> None:
    named, ca = stack
    data = tmp_path / "data"
    account = _cli(data, "acme", "account", "register", "--directory", ca.directory_url, "--agree-tos",
                   "--ca-bundle", str(ca.tls_ca), "--json")
    dns = _cli(data, "dns-account", "add", "rfc2136", "--server", named.address, "--key-name", named.key_name,
               "--key-secret", "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZw==", "--zone", "bind.test", "--json")
    result = certvault_cli(data, "acme", "request", "--account", account["id"], "--domain",
                           f"t{uuid.uuid4().hex[:6]}.bind.test", "--challenge", "dns-01", "--dns-account", dns["id"],
                           "--wait", "--json", check=False)
    order = json.loads(result.stdout)
    assert result.returncode == 1 and order["status"] == "failed"
    assert "TSIG signature" in order["error"] and order["certificate_id"] is None
    listed = json.loads(certvault_cli(data, "acme", "renewals", "--json").stdout)
    assert listed == []

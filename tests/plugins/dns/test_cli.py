"""The real `certvault` command with each hosted provider's fake, reached by --endpoint alone (its CA in the
system store, as SSL_CERT_FILE): `dns-account add` with the issue's flags stores the secrets in the vault,
`dns-account test` lists the zones and changes nothing, and wrong credentials are named without the secret."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.plugins.dns import harness
from tests.plugins.dns.harness import ZONES, Harness
from tests.servers.certvault_server import certvault_cli
from tests.servers.test_ca import LoopbackTLS, make_loopback_tls

FACTORIES: dict[str, Callable[[LoopbackTLS], Harness]] = {
    "azure": harness.azure, "cloudflare": harness.cloudflare, "cloudflare-global-key": harness.cloudflare_global_key,
    "cloudns": harness.cloudns, "godaddy": harness.godaddy,
}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LoopbackTLS:
    return make_loopback_tls(tmp_path_factory.mktemp("dns-cli-tls"))


def _flags(values: dict[str, object]) -> list[str]:
    out: list[str] = []
    for name, value in values.items():
        flag = "--" + name.replace("_", "-")
        out += ([flag] if value is True else [] if value is False else [flag, str(value)])
    return out


@pytest.mark.parametrize("case", sorted(FACTORIES))
def test_add_and_test_an_account_from_the_command_line(case: str, tls: LoopbackTLS, tmp_path: Path) -> None:
    h = FACTORIES[case](tls)
    env = {"SSL_CERT_FILE": str(tls.ca_file)}
    data = tmp_path / "data"
    try:
        added = json.loads(certvault_cli(data, "dns-account", "add", h.plugin, "--name", case,
                                         *_flags(h.options), *_flags(h.secrets), "--json", env=env).stdout)
        assert sorted(added["secret_fields"]) == sorted(h.secrets)
        for secret in h.secrets.values():
            assert secret not in json.dumps(added)  # in the vault, not in the account
        before = h.snapshot()
        tested = json.loads(certvault_cli(data, "dns-account", "test", case, "--json", env=env).stdout)
        assert tested["ok"] is True and sorted(tested["zones"]) == sorted(ZONES)
        assert h.snapshot() == before
        certvault_cli(data, "dns-account", "update", case, *_flags(h.bad_secrets), env=env)
        refused = certvault_cli(data, "dns-account", "test", added["id"], "--json", env=env, check=False)
        answer = json.loads(refused.stdout)
        assert refused.returncode == 1 and answer["ok"] is False
        assert h.title in answer["error"] and "credentials" in answer["error"]
        for secret in h.every_secret():
            assert secret not in refused.stdout + refused.stderr
    finally:
        h.stop()

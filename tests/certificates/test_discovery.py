"""Discovery against real TLS servers on loopback: chains fetched, entries added, where-seen recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from certvault.auth.rbac import Actor
from certvault.certificates import discovery
from certvault.certificates.views import detail
from certvault.container import App
from certvault.errors import InvalidInput
from tests.certificates.factory import make_ca, make_leaf
from tests.certificates.tls_servers import TlsServer, start_s_server
from tests.servers.certvault_server import certvault_cli
from tests.servers.process import free_port

ADMIN = Actor.system("test", via="cli")
ROOT = make_ca("Discovery Root")
INTERMEDIATE = make_ca("Discovery Issuing CA", issuer=ROOT)
TLS13_LEAF = make_leaf(INTERMEDIATE, "tls13.test", ["tls13.test", "www.tls13.test"])
SNI_LEAF = make_leaf(INTERMEDIATE, "other.test", ["other.test"])
TLS12_LEAF = make_leaf(ROOT, "legacy.test", ["legacy.test"],
                       key=rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TlsServer]]:
    workdir = tmp_path_factory.mktemp("s_server")
    started = {
        "tls13": start_s_server(workdir, "tls13", TLS13_LEAF.pem, TLS13_LEAF.key_pem, INTERMEDIATE.pem, "-tls1_3",
                                sni=("other.test", SNI_LEAF.pem, SNI_LEAF.key_pem)),
        "tls12": start_s_server(workdir, "tls12", TLS12_LEAF.pem, TLS12_LEAF.key_pem, b"", "-tls1_2"),
        "mtls": start_s_server(workdir, "mtls", TLS12_LEAF.pem, TLS12_LEAF.key_pem, b"", "-tls1_2",
                               extra=("-Verify", "1")),
    }
    yield started
    for server in started.values():
        server.stop()


def test_fetch_reads_the_served_chain_over_tls13_and_tls12(servers) -> None:
    tls13 = discovery.fetch(discovery.Target("tls13.test", "127.0.0.1", servers["tls13"].port, "tls13.test"))
    assert tls13.error is None and tls13.ip == "127.0.0.1"
    assert tls13.chain_pem == TLS13_LEAF.pem + INTERMEDIATE.pem
    by_sni = discovery.fetch(discovery.Target(None, "127.0.0.1", servers["tls13"].port, "other.test"))
    assert by_sni.chain_pem.startswith(SNI_LEAF.pem)
    tls12 = discovery.fetch(discovery.Target(None, "127.0.0.1", servers["tls12"].port, None))
    assert tls12.chain_pem == TLS12_LEAF.pem


def test_a_server_demanding_a_client_certificate_still_shows_its_own(servers) -> None:
    fetched = discovery.fetch(discovery.Target(None, "127.0.0.1", servers["mtls"].port, None))
    assert fetched.error is None and fetched.chain_pem == TLS12_LEAF.pem


def test_unreachable_targets_give_a_reason() -> None:
    closed = discovery.fetch(discovery.Target(None, "127.0.0.1", free_port(), None), timeout=2)
    assert closed.chain_pem is None and "cannot connect to 127.0.0.1" in closed.error


def test_target_expansion() -> None:
    targets = discovery.expand(["a.test:8443", "[::1]:9443", "10.1.2.3", "# comment", ""], ["192.0.2.0/30"],
                               [443, 8443], None)
    assert [(t.address, t.port, t.sni) for t in targets] == [
        ("a.test", 8443, "a.test"), ("::1", 9443, None), ("10.1.2.3", 443, None), ("10.1.2.3", 8443, None),
        ("192.0.2.1", 443, None), ("192.0.2.1", 8443, None), ("192.0.2.2", 443, None), ("192.0.2.2", 8443, None)]
    for specs, cidrs, message in [(["a b"], [], "is not host"), ([], ["10.0.0.0/33"], "is not a CIDR range"),
                                  ([], ["10.0.0.0/8"], "more than 65536 targets")]:
        with pytest.raises(InvalidInput, match=message):
            discovery.expand(specs, cidrs, [443], None)


def test_record_seen_adds_unmanaged_entries_and_endpoints(sqlite_app: App, servers) -> None:
    fetched = discovery.fetch_all([discovery.Target("tls13.test", "127.0.0.1", servers["tls13"].port, "tls13.test"),
                                   discovery.Target(None, "127.0.0.1", servers["tls12"].port, None)])
    with sqlite_app.transaction() as svc:
        ids = svc.certificates.record_discovered(ADMIN, fetched)
    with sqlite_app.transaction() as svc:
        first = detail(svc.certificates, ADMIN, ids[0])
        endpoints = svc.certificates.endpoints(ADMIN)
    assert first.managed is False and first.source == "discovery"
    assert [c.subject for c in first.chain] == [INTERMEDIATE.cert.subject.rfc4514_string()]
    assert [(s.host, s.ip, s.port, s.sni) for s in first.seen] == [
        ("tls13.test", "127.0.0.1", servers["tls13"].port, "tls13.test")]
    assert sorted((e.ip, e.port, e.sni) for e in endpoints) == sorted(
        [("127.0.0.1", servers["tls13"].port, "tls13.test"), ("127.0.0.1", servers["tls12"].port, None)])
    # seen again later: same entry, same endpoint row, later last_seen
    with sqlite_app.transaction() as svc:
        again = svc.certificates.record_seen(ADMIN, chain_pem=fetched[0].chain_pem, host="tls13.test",
                                             ip="127.0.0.1", port=servers["tls13"].port, sni="tls13.test")
        assert again.id == ids[0] and len(svc.certificates.sightings(ADMIN, again.id)) == 1
        svc.certificates.update(ADMIN, again.id, managed=True)
    with sqlite_app.transaction() as svc:
        assert svc.certificates.get(ADMIN, ids[0]).managed is True


def test_cli_discover_over_host_cidr_and_ports(servers, tmp_path: Path) -> None:
    data = tmp_path / "data"
    certvault_cli(data, "init")
    port13, port12 = servers["tls13"].port, servers["tls12"].port
    single = json.loads(certvault_cli(data, "discover", f"127.0.0.1:{port13}", "--sni", "other.test",
                                      "--json").stdout)
    assert single[0]["common_name"] == "other.test" and single[0]["sni"] == "other.test"
    (tmp_path / "targets.txt").write_text(f"# my hosts\n127.0.0.1:{port12}\n")
    closed = free_port()
    ranged = json.loads(certvault_cli(data, "discover", "--cidr", "127.0.0.1/32", "--ports",
                                      f"{port13},{closed}", "--targets", str(tmp_path / "targets.txt"),
                                      "--timeout", "3", "--json").stdout)
    by_port = {row["port"]: row for row in ranged}
    assert by_port[port12]["common_name"] == "legacy.test"
    assert by_port[port13]["common_name"] == "tls13.test"
    assert "cannot connect" in by_port[closed]["error"]
    listed = json.loads(certvault_cli(data, "cert", "list", "--unmanaged", "--json").stdout)
    assert sorted(e["common_name"] for e in listed["items"]) == ["legacy.test", "other.test", "tls13.test"]
    bad = certvault_cli(data, "discover", "--cidr", "nonsense", check=False)
    assert bad.returncode == 1 and "'nonsense' is not a CIDR range" in bad.stderr

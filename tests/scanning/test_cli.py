"""`certvault scan` as a user runs it: the real command against real TLS servers, JSON lines whose
shape is the contract, a readable report, history, schedules. Name resolution runs in a private
mount namespace whose /etc/hosts gives a name two addresses and whose resolver is loopback, so no
lookup leaves the machine."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scanning.tls import ScanCA, TlsServers
from tests.servers.certvault_server import BIN, LiveServer, certvault_cli
from tests.servers.process import free_port, which

pytestmark = pytest.mark.xdist_group("scan-cli")

CONTRACT = {
    "target": dict, "protocols": dict, "ciphers": dict, "vulnerabilities": dict, "hsts": dict, "grade": str,
    "connections": int, "duration_ms": int, "errors": list,
}
VULNERABILITIES = {"heartbleed", "ccs_injection", "poodle_ssl", "robot", "insecure_renegotiation",
                   "client_renegotiation", "compression", "no_fallback_scsv", "sweet32", "rc4", "null_ciphers",
                   "anonymous_ciphers", "export_ciphers"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("scan-cli") / "data"
    certvault_cli(directory, "init")
    return directory


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def _check_contract(result: dict) -> None:
    for key, kind in CONTRACT.items():
        assert isinstance(result[key], kind), key
    assert set(result["target"]) >= {"host", "ip", "port", "sni"}
    assert set(result["protocols"]) == {"SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"}
    assert set(result["vulnerabilities"]) == VULNERABILITIES
    assert set(result["vulnerabilities"].values()) <= {"vulnerable", "not_vulnerable", "not_applicable", "error"}
    if result["certificate"] is not None:
        assert set(result["certificate"]) >= {
            "subject", "sans", "serial", "not_after", "days_left", "signature_algorithm", "key_type", "key_size",
            "expired", "not_yet_valid", "self_signed", "untrusted", "hostname_mismatch", "weak_signature",
            "weak_key", "revocation", "revocation_source"}
    for suites in result["ciphers"].values():
        for suite in suites:
            assert set(suite) >= {"code", "name", "weak", "reasons"} and suite["code"].startswith("0x")


def test_one_target_json_report_and_history(data_dir: Path, test_ca: ScanCA, tls_servers: TlsServers) -> None:
    server = tls_servers.serve(test_ca.issue(["cli.test"], ["127.0.0.2"]), ip="127.0.0.2")
    target = f"127.0.0.2:{server.port}"
    out = certvault_cli(data_dir, "scan", target, "--ca-file", str(test_ca.ca_file), "--json").stdout
    [result] = _lines(out)
    _check_contract(result)
    assert result["target"] == {"host": "127.0.0.2", "ip": "127.0.0.2", "port": server.port, "sni": None,
                                "starttls": None}
    assert result["grade"].startswith("A") and result["errors"] == []
    assert result["certificate"]["sans"] == ["cli.test", "127.0.0.2"] and not result["certificate"]["untrusted"]

    report = certvault_cli(data_dir, "scan", target, "--ca-file", str(test_ca.ca_file)).stdout
    assert report.startswith(f"{target}  grade A")
    assert "Protocols: TLSv1.2 TLSv1.3" in report and "Weak ciphers: none" in report
    assert "problems: none" in report

    certvault_cli(data_dir, "scan", target, "--no-store", "--json")
    history = json.loads(certvault_cli(data_dir, "scan", "history", target, "--json").stdout)
    assert len(history) == 1 and history[0]["endpoint"]["port"] == server.port
    assert len(history[0]["results"]) == 2  # the --no-store scan left nothing


def test_certvault_scanning_its_own_server_trusts_its_own_ca(live: LiveServer) -> None:
    """The server's certificate comes from certvault's internal CA, which certvault trusts: no "T" grade."""
    [result] = _lines(live.cli("scan", f"127.0.0.1:{live.port}", "--no-store", "--json").stdout)
    assert result["certificate"]["untrusted"] is False and result["grade"].startswith("A"), result


def test_targets_file_gives_json_lines_and_unreachable_targets_have_errors(
        data_dir: Path, test_ca: ScanCA, tls_servers: TlsServers, tmp_path: Path) -> None:
    good = tls_servers.serve(test_ca.issue(["a.test"], ["127.0.0.5"]), ip="127.0.0.5")
    legacy = tls_servers.serve(test_ca.issue(["b.test"], ["127.0.0.6"]), ip="127.0.0.6", profile="legacy")
    six = tls_servers.serve(test_ca.issue(["six.test"], ["::1"]), ip="::1")
    closed = tls_servers.closed_port("127.0.0.7")
    targets = tmp_path / "targets.txt"
    targets.write_text(f"# three servers and a closed port\n127.0.0.5:{good.port}\n127.0.0.6:{legacy.port}\n"
                       f"127.0.0.7:{closed}, [::1]:{six.port}\n")
    result = certvault_cli(data_dir, "scan", "--targets", str(targets), "--concurrency", "2", "--json",
                           "--ca-file", str(test_ca.ca_file))
    lines = _lines(result.stdout)
    assert len(lines) == 4 and all(set(r) >= set(CONTRACT) for r in lines)
    by_ip = {r["target"]["ip"]: r for r in lines}
    assert by_ip["::1"]["grade"].startswith("A") and by_ip["::1"]["target"]["port"] == six.port
    assert by_ip["127.0.0.7"]["errors"] and "refused" in by_ip["127.0.0.7"]["errors"][0]
    assert by_ip["127.0.0.6"]["protocols"]["TLSv1.0"] is True
    assert by_ip["127.0.0.6"]["vulnerabilities"]["anonymous_ciphers"] == "vulnerable"
    assert by_ip["127.0.0.5"]["vulnerabilities"]["anonymous_ciphers"] == "not_vulnerable"

    summary = certvault_cli(data_dir, "scan", "--targets", str(targets), "--ca-file", str(test_ca.ca_file),
                            env={"COLUMNS": "200"}).stdout
    assert "4 results, 1 unreachable" in summary and "anonymous_ciphers" in summary
    listed = json.loads(certvault_cli(data_dir, "scan", "endpoints", "--vulnerable-to", "TLSv1.0", "--json").stdout)
    assert [e["ip"] for e in listed["items"]] == ["127.0.0.6"]
    runs = json.loads(certvault_cli(data_dir, "scan", "runs", "--json").stdout)
    assert runs[0]["status"] == "done" and runs[0]["done_targets"] == 4 and runs[0]["failed_targets"] == 1

    bad = tmp_path / "bad.txt"
    bad.write_text("ok.test\nnot a target!\n")
    failed = certvault_cli(data_dir, "scan", "--targets", str(bad), check=False)
    assert failed.returncode == 1 and "bad.txt line 2" in failed.stderr
    both = certvault_cli(data_dir, "scan", "x.test", "--targets", str(bad), check=False)
    assert both.returncode != 0 and "either TARGET or --targets" in both.stderr


@pytest.fixture
def private_resolver(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n127.0.0.2 multi.test\n127.0.0.3 multi.test\n")
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    yield hosts, resolv


def _cli_with_hosts(data_dir: Path, files: tuple[Path, Path], *args: str) -> subprocess.CompletedProcess[str]:
    script = 'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf && shift 2 && exec "$@"'
    command = [which("unshare"), "--mount", "sh", "-c", script, "sh", str(files[0]), str(files[1]),
               str(BIN / "certvault"), "--data-dir", str(data_dir), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "CERTVAULT_SECURITY_PASSWORD_MIN_LENGTH": "8"})


def test_a_name_with_two_addresses_gives_two_results(
        data_dir: Path, test_ca: ScanCA, tls_servers: TlsServers, private_resolver: tuple[Path, Path]) -> None:
    port = _port_free_on("127.0.0.2", "127.0.0.3")
    issued = test_ca.issue(["multi.test"])
    tls_servers.serve(issued, ip="127.0.0.2", port=port)
    tls_servers.serve(issued, ip="127.0.0.3", port=port, profile="legacy")
    result = _cli_with_hosts(data_dir, private_resolver, "scan", f"multi.test:{port}", "--json",
                             "--ca-file", str(test_ca.ca_file))
    assert result.returncode == 0, result.stderr
    lines = _lines(result.stdout)
    assert sorted((r["target"]["host"], r["target"]["ip"], r["target"]["sni"]) for r in lines) == [
        ("multi.test", "127.0.0.2", "multi.test"), ("multi.test", "127.0.0.3", "multi.test")]
    assert all(not r["certificate"]["hostname_mismatch"] for r in lines)

    missing = _cli_with_hosts(data_dir, private_resolver, "scan", "missing.test", "--json")
    [unresolved] = _lines(missing.stdout)
    assert missing.returncode == 0 and unresolved["target"]["host"] == "missing.test"
    assert unresolved["errors"][0].startswith("could not resolve missing.test")
    history = json.loads(certvault_cli(data_dir, "scan", "history", f"multi.test:{port}", "--json").stdout)
    assert sorted(h["endpoint"]["ip"] for h in history) == ["127.0.0.2", "127.0.0.3"]


def _port_free_on(*ips: str) -> int:
    for _ in range(50):
        port = free_port(ips[0])
        if all(free_port_is(ip, port) for ip in ips[1:]):
            return port
    raise RuntimeError("no port free on every address")


def free_port_is(ip: str, port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind((ip, port))
        except OSError:
            return False
    return True


def test_schedule_commands(data_dir: Path) -> None:
    added = certvault_cli(data_dir, "scan", "schedule", "add", "cli-nightly", "--at", "01:15", "--host",
                          "192.0.2.0/30", "--ports", "443,8443", "--json")
    schedule = json.loads(added.stdout)
    assert (schedule["frequency"], schedule["time_of_day"], schedule["spec"]["hosts"]) == (
        "daily", "01:15", ["192.0.2.0/30"])
    weekly = certvault_cli(data_dir, "scan", "schedule", "add", "cli-weekly", "--at", "23:00", "--weekly", "sat",
                           "--inventory").stdout
    assert "weekly on Saturday at 23:00 UTC" in weekly
    listed = json.loads(certvault_cli(data_dir, "scan", "schedule", "list", "--json").stdout)
    assert [s["name"] for s in listed] == ["cli-nightly", "cli-weekly"]
    bad = certvault_cli(data_dir, "scan", "schedule", "add", "x", "--at", "9", "--host", "a.test", check=False)
    assert bad.returncode == 1 and "is not HH:MM" in bad.stderr
    certvault_cli(data_dir, "scan", "schedule", "remove", "cli-nightly")
    listed = json.loads(certvault_cli(data_dir, "scan", "schedule", "list", "--json").stdout)
    assert [s["name"] for s in listed] == ["cli-weekly"]

"""Cross-checks against independent scanners, each run once per server and cached for the session.

1. Protocols and accepted cipher suites equal what nmap's ssl-enum-ciphers reports, server by server.
2. Each behaviour simulator is flagged by nmap or testssl.sh too, so it shows the flaw as real scanners see it.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest

from tests.servers.process import which

pytestmark = pytest.mark.xdist_group("tls")

NMAP_PROTOCOLS = {"SSLv3": "SSLv3", "TLSv1.0": "TLSv1.0", "TLSv1.1": "TLSv1.1", "TLSv1.2": "TLSv1.2",
                  "TLSv1.3": "TLSv1.3"}


@cache
def nmap(ip: str, port: int, scripts: str) -> ET.Element:
    done = subprocess.run([which("nmap"), "-Pn", "-n", "-p", str(port), "--script", scripts, "-oX", "-", ip],
                          capture_output=True, text=True, timeout=120)
    return ET.fromstring(done.stdout)


def nmap_ciphers(ip: str, port: int) -> dict[str, set[str]]:
    root = nmap(ip, port, "ssl-enum-ciphers")
    found: dict[str, set[str]] = {}
    for script in root.iter("script"):
        if script.get("id") != "ssl-enum-ciphers":
            continue
        for proto in script.findall("table"):
            names = {e.text or "" for e in proto.iter("elem") if e.get("key") == "name"}
            found[proto.get("key") or ""] = {n.replace("TLS_AKE_WITH_", "TLS_") for n in names}
    return found


def nmap_script_output(ip: str, port: int, script_id: str) -> str:
    root = nmap(ip, port, script_id)
    return " ".join(s.get("output") or "" for s in root.iter("script") if s.get("id") == script_id)


@cache
def run_testssl(ip: str, port: int, flag: str) -> list[dict[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        subprocess.run([which("testssl"), "--quiet", "--color", "0", "--warnings", "off", "--jsonfile", str(out),
                        flag, f"{ip}:{port}"], capture_output=True, text=True, timeout=300)
        return json.loads(out.read_text()) if out.exists() else []


def reference_finding(ip: str, port: int, flag: str, finding_id: str) -> dict[str, str]:
    missing = {"severity": "missing", "finding": ""}
    return next((f for f in run_testssl(ip, port, flag) if f["id"] == finding_id), missing)


@pytest.mark.parametrize("server", ["nginx-modern", "s_server-legacy", "gnutls-weak", "tlslite-sslv3", "sim-export",
                                    "nginx-weakcert"])
def test_protocols_and_ciphers_equal_nmap(matrix, server: str) -> None:
    ours = matrix.scan(server)
    running = matrix.servers[server]
    reference = nmap_ciphers(running.ip, running.port)
    our_view = {p: {c["name"] for c in ours["ciphers"].get(p, [])} for p, on in ours["protocols"].items()
                if on and p in NMAP_PROTOCOLS}
    assert our_view == reference


def _server(matrix, name: str) -> tuple[str, int]:
    running = matrix.servers[name]
    return running.ip, running.port


def test_heartbleed_simulator_is_flagged_by_nmap(matrix) -> None:
    assert "VULNERABLE" in nmap_script_output(*_server(matrix, "sim-heartbleed"), "ssl-heartbleed")
    assert "VULNERABLE" not in nmap_script_output(*_server(matrix, "nginx-modern"), "ssl-heartbleed")


def test_ccs_simulator_is_flagged_by_nmap(matrix) -> None:
    assert "VULNERABLE" in nmap_script_output(*_server(matrix, "sim-ccs"), "ssl-ccs-injection")


def test_sslv2_simulator_is_flagged_by_nmap(matrix) -> None:
    assert "SSLv2 supported" in nmap_script_output(*_server(matrix, "sim-sslv2"), "sslv2")


def test_export_simulator_is_flagged_by_nmap(matrix) -> None:
    ciphers = nmap_ciphers(*_server(matrix, "sim-export"))
    assert any("EXPORT" in name for names in ciphers.values() for name in names)


def test_robot_simulator_is_flagged_by_testssl(matrix) -> None:
    finding = reference_finding(*_server(matrix, "sim-robot"), "-BB", "ROBOT")
    assert "VULNERABLE" in finding["finding"].upper() or finding["severity"] in ("HIGH", "CRITICAL"), finding


def test_compression_simulator_is_flagged_by_testssl(matrix) -> None:
    finding = reference_finding(*_server(matrix, "sim-compression"), "-C", "CRIME_TLS")
    assert "VULNERABLE" in finding["finding"].upper(), finding


def test_missing_fallback_scsv_simulator_is_flagged_by_testssl(matrix) -> None:
    finding = reference_finding(*_server(matrix, "sim-nofallback"), "-Z", "fallback_SCSV")
    assert "not supported" in finding["finding"].lower() or finding["severity"] in ("MEDIUM", "HIGH"), finding


def test_dh_parameter_size_equals_nmap(matrix) -> None:
    ip, port = _server(matrix, "s_server-dh1024")
    output = nmap_script_output(ip, port, "ssl-dh-params")
    assert "Modulus Length: 1024" in output, output
    assert matrix.scan("s_server-dh1024")["key_exchange"]["bits"] == 1024

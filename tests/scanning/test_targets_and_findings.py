"""Pure parts: what users type as targets, and what counts as a change between two results."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import pytest

from certvault.errors import InvalidInput
from certvault.scanning.findings import all_finding_names, changes, describe, snapshot
from certvault.scanning.targets import expand, parse_ports, parse_target, parse_targets_text


@pytest.mark.parametrize(("text", "host", "port", "network"), [
    ("www.Example.com", "www.example.com", None, None),
    ("www.example.com.:8443", "www.example.com", 8443, None),
    ("192.0.2.7", "192.0.2.7", None, None),
    ("192.0.2.7:465", "192.0.2.7", 465, None),
    ("[2001:db8::1]:443", "2001:db8::1", 443, None),
    ("[2001:DB8::1]", "2001:db8::1", None, None),
    ("2001:db8::1", "2001:db8::1", None, None),
    ("192.0.2.0/30", "192.0.2.0/30", None, "192.0.2.0/30"),
    ("192.0.2.0/30:8443", "192.0.2.0/30", 8443, "192.0.2.0/30"),
    ("[2001:db8::/126]:443", "2001:db8::/126", 443, "2001:db8::/126"),
])
def test_targets_are_parsed(text: str, host: str, port: int | None, network: str | None) -> None:
    entry = parse_target(text)
    assert (entry.host, entry.port) == (host, port)
    assert entry.network == (ipaddress.ip_network(network) if network else None)


@pytest.mark.parametrize(("text", "message"), [
    ("bad host", "is not a host name"), ("*.example.com", "is not a host name"), ("a.test:0", "port '0'"),
    ("a.test:http", "port 'http'"), ("[2001:db8::1", "IPv6"), ("[::1]x", "IPv6"), ("300.1.2.3/8", "CIDR"),
    ("-lead.example.com", "is not a host name"), ("a" * 64 + ".com", "is not a host name"),
])
def test_bad_targets_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_target(text)


def test_targets_file_lines_comments_and_errors() -> None:
    entries = parse_targets_text("# web\nwww.example.com\n192.0.2.1:8443, 192.0.2.2  # two\n\n[::1]:443\n")
    assert [(e.host, e.port) for e in entries] == [("www.example.com", None), ("192.0.2.1", 8443),
                                                  ("192.0.2.2", None), ("::1", 443)]
    with pytest.raises(InvalidInput, match="hosts.txt line 2: target 'bad:1x': port '1x' is not a number"):
        parse_targets_text("ok.example.com\nbad:1x\n", "hosts.txt")


def test_ports_lists_and_ranges() -> None:
    assert parse_ports(["443,8443", "8000-8002", 443]) == [443, 8443, 8000, 8001, 8002]
    for bad in ("0", "70000", "9-1", "1-5000", "https"):
        with pytest.raises(InvalidInput, match="ports"):
            parse_ports([bad])


def test_cidr_and_port_lists_expand_without_dns() -> None:
    entries = [parse_target("192.0.2.0/30"), parse_target("198.51.100.9:25"), parse_target("[2001:db8::5]")]
    targets, unresolved = asyncio.run(expand(entries, [443, 8443], sni="mail.example.com"))
    assert unresolved == []
    assert sorted((t.ip, t.port) for t in targets) == sorted(
        [("192.0.2.1", 443), ("192.0.2.2", 443), ("192.0.2.1", 8443), ("192.0.2.2", 8443),
         ("198.51.100.9", 25), ("2001:db8::5", 443), ("2001:db8::5", 8443)])
    assert {t.sni for t in targets} == {"mail.example.com"}


def _result(grade: str = "A", protocols: tuple[str, ...] = ("TLSv1.2", "TLSv1.3"), weak: tuple[str, ...] = (),
            fingerprint: str = "aa", days_left: int = 80, **vulns: str) -> dict[str, Any]:
    suites = [{"code": "0x0001", "name": n, "weak": True, "reasons": [f"{n} is weak"]} for n in weak]
    return {
        "target": {"host": "a.test", "ip": "192.0.2.1", "port": 443, "sni": "a.test"}, "reachable": True,
        "protocols": {p: p in protocols for p in ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")},
        "ciphers": {"TLSv1.2": suites}, "vulnerabilities": {"heartbleed": "not_vulnerable", **vulns},
        "certificate": {"fingerprint_sha256": fingerprint, "subject": "CN=a.test", "serial": "01",
                        "not_after": "2027-01-01T00:00:00+00:00", "days_left": days_left,
                        "expiring_soon": days_left <= 30, "expired": days_left < 0},
        "grade": grade, "errors": [],
    }


def _kinds(before: dict[str, Any] | None, after: dict[str, Any], was_unreachable: bool = False) -> list[tuple]:
    previous = snapshot(before) if before else None
    return sorted((c.type, c.subject) for c in changes(previous, snapshot(after), was_unreachable))


def test_changes_between_results() -> None:
    clean = _result()
    assert _kinds(None, clean) == []
    assert _kinds(clean, clean) == []
    bleeding = _result(grade="F", heartbleed="vulnerable")
    assert _kinds(clean, bleeding) == [("grade_changed", None), ("weakness_found", "heartbleed")]
    assert _kinds(bleeding, clean) == [("grade_changed", None), ("weakness_fixed", "heartbleed")]
    assert _kinds(clean, _result(fingerprint="bb")) == [("certificate_changed", None)]
    assert _kinds(clean, _result(days_left=20)) == [("expiry_warning", None)]
    assert _kinds(_result(days_left=20), _result(days_left=19)) == []  # warned once per certificate
    assert _kinds(clean, _result(protocols=("TLSv1.0", "TLSv1.2"))) == [("weakness_found", "protocol:TLSv1.0")]


def test_a_new_weak_cipher_is_a_new_weakness_even_when_others_were_known() -> None:
    one = _result(weak=("TLS_RSA_WITH_RC4_128_SHA",))
    two = _result(weak=("TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"))
    [change] = changes(snapshot(one), snapshot(two), False)
    assert (change.type, change.subject) == ("weakness_found", "weak_ciphers")
    assert change.details["ciphers_added"] == [{"name": "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
                                                "reasons": ["TLS_RSA_WITH_3DES_EDE_CBC_SHA is weak"]}]
    [change] = changes(snapshot(two), snapshot(one), False)
    assert (change.type, change.details["ciphers_removed"]) == ("weakness_fixed", ["TLS_RSA_WITH_3DES_EDE_CBC_SHA"])


def test_unreachable_results_do_not_fix_weaknesses() -> None:
    weak = _result(grade="F", heartbleed="vulnerable")
    down = {"target": weak["target"], "reachable": False, "protocols": {}, "errors": ["connection refused"],
            "grade": "-"}
    assert _kinds(weak, down) == [("unreachable", None)]
    assert _kinds(weak, down, was_unreachable=True) == []
    # Back up and still vulnerable: compared with the last reachable result, only "reachable" is new.
    assert _kinds(weak, weak, was_unreachable=True) == [("reachable", None)]


def test_weak_ephemeral_key_exchange_is_a_finding_and_its_fix_an_event() -> None:
    modern = {**_result(), "key_exchange": {"kind": "ECDHE", "bits": 253, "group": "x25519", "weak": False}}
    logjam = {**_result(grade="B"), "key_exchange": {"kind": "DHE", "bits": 1024, "group": None, "weak": True}}
    assert "weak_key_exchange" in snapshot(logjam).findings and "weak_key_exchange" not in snapshot(modern).findings
    assert _kinds(modern, logjam) == [("grade_changed", None), ("weakness_found", "weak_key_exchange")]
    assert _kinds(logjam, modern) == [("grade_changed", None), ("weakness_fixed", "weak_key_exchange")]
    assert "Logjam" in describe("weak_key_exchange") and "weak_key_exchange" in all_finding_names()

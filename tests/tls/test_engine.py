"""The engine's pure parts and its contract: the result shape, bad input, unreachable targets, many targets."""

from __future__ import annotations

import asyncio

import pytest

from certvault.tls.ciphers import lookup, suites_for
from certvault.tls.hello import client_hello, sslv2_client_hello
from certvault.tls.hsts import parse_hsts
from certvault.tls.records import RecordReader, TLSParseError, parse_sslv2_server_hello
from certvault.tls.scanner import ScanOptions, ScanTarget, resolve_targets, scan_many, scan_target
from certvault.tls.starttls import choose_protocol
from tests.servers.process import free_port

CONTRACT_KEYS = {"target", "protocols", "ciphers", "vulnerabilities", "certificate", "hsts", "grade", "connections",
                 "duration_ms", "errors"}


def test_cipher_table_classifies_weakness() -> None:
    assert lookup(0xC02F).name == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" and not lookup(0xC02F).weakness_reasons()
    assert "64-bit block cipher (SWEET32)" in lookup(0x000A).weakness_reasons()
    assert "EXPORT-grade cipher (40/56-bit)" in lookup(0x0003).weakness_reasons()
    assert lookup(0x0034).anonymous and lookup(0x0002).null
    assert lookup(0xBEEF).name == "UNKNOWN_0xBEEF"
    assert all(s.min_protocol != "TLSv1.2" for s in suites_for("TLSv1.0"))


def test_client_hello_is_well_formed() -> None:
    hello = client_hello("TLSv1.2", [0xC02F, 0x009C])
    assert hello[0] == 0x16 and int.from_bytes(hello[3:5], "big") == len(hello) - 5
    assert hello[5] == 1 and hello[9:11] == b"\x03\x03"
    v2 = sslv2_client_hello([0x010080])
    assert v2[0] & 0x80 and v2[2] == 1


def test_record_reader_rejects_garbage_with_a_clear_error() -> None:
    reader = RecordReader()
    with pytest.raises(TLSParseError, match="not a TLS record"):
        reader.feed(b"HTTP/1.1 400 Bad Request\r\n")
    with pytest.raises(TLSParseError, match="SSLv2"):
        parse_sslv2_server_hello(b"\x15\x03\x01\x00\x02\x02\x28")


def test_hsts_parsing() -> None:
    head = "HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=63072000; includeSubDomains; preload"
    assert parse_hsts(head) == {"present": True, "max_age": 63072000, "include_subdomains": True, "preload": True,
                                "http_status": 200}
    assert parse_hsts("HTTP/1.1 200 OK\r\nServer: x")["present"] is False


def test_starttls_chosen_by_port_or_explicitly() -> None:
    assert [choose_protocol(None, p) for p in (25, 587, 143, 110, 21, 389, 5432, 443)] == [
        "smtp", "smtp", "imap", "pop3", "ftp", "ldap", "postgres", None]
    assert choose_protocol("none", 25) is None and choose_protocol("imap", 9999) == "imap"
    with pytest.raises(ValueError, match="unknown STARTTLS protocol 'gopher'"):
        choose_protocol("gopher", 70)


def test_unreachable_target_gives_errors_not_an_exception() -> None:
    port = free_port()
    result = asyncio.run(scan_target(ScanTarget("127.0.0.1", "127.0.0.1", port), ScanOptions(timeout=1)))
    assert CONTRACT_KEYS <= set(result)
    assert result["reachable"] is False and result["grade"] == "-"
    assert any("connection refused" in e for e in result["errors"])
    assert result["target"] == {"host": "127.0.0.1", "ip": "127.0.0.1", "port": port, "sni": None, "starttls": None}


def test_unknown_starttls_is_reported_in_the_result() -> None:
    result = asyncio.run(scan_target(ScanTarget("a.test", "127.0.0.1", 1, starttls="gopher")))
    assert result["errors"] == ["unknown STARTTLS protocol 'gopher'; use one of "
                                "['ftp', 'imap', 'ldap', 'pop3', 'postgres', 'smtp']"]


def test_resolve_targets_gives_one_target_per_address() -> None:
    targets = asyncio.run(resolve_targets("localhost", 443, sni="www.test"))
    assert targets and all(t.host == "localhost" and t.port == 443 and t.sni == "www.test" for t in targets)
    assert "127.0.0.1" in {t.ip for t in targets}
    assert asyncio.run(resolve_targets("192.0.2.7", 8443)) == [ScanTarget("192.0.2.7", "192.0.2.7", 8443)]
    with pytest.raises(LookupError, match="cannot resolve"):
        asyncio.run(resolve_targets("no-such-host.invalid", 443))


@pytest.mark.xdist_group("tls")
def test_scan_many_yields_every_target_and_reports_progress(matrix) -> None:
    targets = [matrix.target("nginx-modern"), matrix.target("nginx-expired"), matrix.target("nginx-modern", "x.test")]
    seen: list[str] = []

    async def collect() -> list[dict]:
        return [r async for r in scan_many(targets, matrix.options, concurrency=2,
                                           progress=lambda r: seen.append(r["grade"]))]

    results = asyncio.run(collect())
    assert sorted(r["target"]["sni"] for r in results) == ["localhost", "localhost", "x.test"]
    assert sorted(seen) == sorted(r["grade"] for r in results) and "M" in seen and "T" in seen


@pytest.mark.xdist_group("tls")
def test_rate_limit_and_per_host_cap_still_complete_the_scan(matrix) -> None:
    options = ScanOptions(ca_file=matrix.options.ca_file, timeout=4, per_host_connections=1, rate_per_ip=200)
    result = asyncio.run(scan_target(matrix.target("nginx-modern"), options))
    assert result["grade"] == "A+" and result["errors"] == []

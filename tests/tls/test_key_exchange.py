"""Ephemeral key-exchange parameters (DHE prime size, ECDHE curve): parsed from the ServerKeyExchange the
enumeration probes already receive, scored in the key-exchange category and capped on (Logjam)."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from certvault.tls.grading import grade
from certvault.tls.keyexchange import parse_server_key_exchange
from certvault.tls.records import TLSParseError
from certvault.tls.scanner import ScanTarget, empty_result
from tests.servers.process import which

pytestmark = pytest.mark.xdist_group("tls")


def _openssl_prime(tmp_path: Path, group: str) -> int:
    from cryptography.hazmat.primitives.serialization import load_pem_parameters  # warns: FFDH is deprecated

    out = tmp_path / f"{group}.pem"
    subprocess.run([which("openssl"), "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", f"group:{group}",
                    "-out", str(out)], check=True, capture_output=True, timeout=30)
    return int(load_pem_parameters(out.read_bytes()).parameter_numbers().p)  # type: ignore[attr-defined]


def _dhe_body(p: int, hint: bytes | None = None) -> bytes:
    prime = p.to_bytes((p.bit_length() + 7) // 8, "big")
    body = struct.pack("!H", len(prime)) + prime + b"\x00\x01\x02" + b"\x00\x01\x05" + b"\x04\x01\x00\x00"
    return body if hint is None else struct.pack("!H", len(hint)) + hint + body


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
@pytest.mark.parametrize("group", ["ffdhe2048", "ffdhe4096", "modp_2048", "modp_1536"])
def test_well_known_dh_primes_are_named_as_openssl_names_them(tmp_path: Path, group: str) -> None:
    p = _openssl_prime(tmp_path, group)
    assert parse_server_key_exchange("DHE", _dhe_body(p)) == parse_server_key_exchange(
        "DHE", _dhe_body(p, b"hint"), psk=True)
    kex = parse_server_key_exchange("DHE", _dhe_body(p))
    assert (kex.kind, kex.bits, kex.group) == ("DHE", p.bit_length(), group)
    assert parse_server_key_exchange("DHE", _dhe_body(p ^ 0b100)).group is None  # a custom prime has no name


def test_ecdhe_named_curves_and_malformed_messages() -> None:
    assert parse_server_key_exchange("ECDHE", b"\x03\x00\x17\x41" + b"\x04" * 65).as_dict() == {
        "kind": "ECDHE", "bits": 256, "group": "secp256r1", "weak": False}
    assert parse_server_key_exchange("ECDHE", b"\x03\x00\x1d\x20").group == "x25519"
    assert parse_server_key_exchange("ECDHE", b"\x01\x00").group == "explicit_prime"
    with pytest.raises(TLSParseError, match="truncated"):
        parse_server_key_exchange("DHE", b"\x00\x80\xff")
    with pytest.raises(TLSParseError, match="truncated"):
        parse_server_key_exchange("ECDHE", b"\x03\x00")


def _graded(kind: str | None, bits: int | None, group: str | None = None) -> tuple[str, list[str]]:
    result = empty_result(ScanTarget("h", "127.0.0.1", 443))
    result["protocols"].update({"TLSv1.2": True, "TLSv1.3": True})
    result["ciphers"] = {"TLSv1.2": [{"name": "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "bits": 256, "reasons": []}]}
    result["vulnerabilities"] = dict.fromkeys(result["vulnerabilities"], "not_vulnerable")
    result["certificate"] = {"key_type": "RSA", "key_size": 4096}
    result["hsts"] = {"present": True, "max_age": 31536000}
    result["key_exchange"] = {"kind": kind, "bits": bits, "group": group}
    return grade(result)


def test_grade_uses_the_weaker_of_certificate_key_and_ephemeral_parameters() -> None:
    assert _graded(None, None) == ("A+", [])
    assert _graded("ECDHE", 253, "x25519") == ("A+", [])
    assert _graded("DHE", 4096) == ("A+", [])
    assert _graded("DHE", 2048) == ("A+", [])  # key exchange 90 instead of 100: still an A
    assert _graded("DHE", 1024) == ("B", ["capped at B: DH parameters of 1024 bits"])
    letter, reasons = _graded("DHE", 512)
    assert letter == "F" and "capped at F: DH parameters of 512 bits (Logjam)" in reasons


def test_dhe_1024_server_shows_its_parameters_and_is_capped_at_b(matrix) -> None:
    result = matrix.scan("s_server-dh1024")
    assert result["key_exchange"] == {"kind": "DHE", "bits": 1024, "group": None, "weak": True}
    assert result["grade"] == "B"
    assert "capped at B: DH parameters of 1024 bits" in result["grade_reasons"]
    assert result["errors"] == []


def test_modern_ecdhe_server_shows_its_curve_and_is_not_capped(matrix) -> None:
    result = matrix.scan("nginx-modern")
    assert result["key_exchange"] == {"kind": "ECDHE", "bits": 253, "group": "x25519", "weak": False}
    assert result["grade"] == "A+" and not any("DH" in r for r in result["grade_reasons"])


def test_openssl_automatic_dh_names_the_common_1024_bit_prime(matrix) -> None:
    # no -dhparam: OpenSSL's automatic DH gives its weak legacy suites RFC 2409's 1024-bit Oakley group 2
    assert matrix.scan("s_server-legacy")["key_exchange"] == {"kind": "DHE", "bits": 1024, "group": "modp_1024",
                                                             "weak": True}

"""Every check, positive and negative, against the real-server matrix (simulators where no real flaw exists)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.xdist_group("tls")

VULNERABILITY_CASES = [
    # (check, server that has the flaw, server that does not)
    ("heartbleed", "sim-heartbleed", "nginx-modern"),
    ("ccs_injection", "sim-ccs", "nginx-modern"),
    ("poodle_ssl", "tlslite-sslv3", "nginx-modern"),
    ("robot", "sim-robot", "s_server-legacy"),
    ("insecure_renegotiation", "gnutls-weak", "nginx-modern"),
    ("client_renegotiation", "s_server-reneg", "nginx-modern"),
    ("compression", "sim-compression", "s_server-legacy"),
    ("no_fallback_scsv", "sim-nofallback", "s_server-legacy"),
    ("sweet32", "gnutls-weak", "nginx-modern"),
    ("rc4", "gnutls-weak", "s_server-legacy"),
    ("null_ciphers", "s_server-legacy", "nginx-modern"),
    ("anonymous_ciphers", "s_server-legacy", "nginx-modern"),
    ("export_ciphers", "sim-export", "s_server-legacy"),
]


@pytest.mark.parametrize(("check", "flawed", "sound"), VULNERABILITY_CASES)
def test_vulnerability_positive_and_negative(matrix, check: str, flawed: str, sound: str) -> None:
    assert matrix.scan(flawed)["vulnerabilities"][check] == "vulnerable"
    assert matrix.scan(sound)["vulnerabilities"][check] == "not_vulnerable"


def test_heartbleed_and_ccs_are_tested_even_when_tls13_is_offered(matrix) -> None:
    result = matrix.scan("nginx-modern")
    assert result["protocols"]["TLSv1.3"]
    assert result["vulnerabilities"]["heartbleed"] == "not_vulnerable"
    assert result["vulnerabilities"]["ccs_injection"] == "not_vulnerable"


def test_renegotiation_does_not_apply_to_a_tls13_only_view_and_fallback_needs_two_versions(matrix) -> None:
    sslv3_only = matrix.scan("tlslite-sslv3")
    assert sslv3_only["vulnerabilities"]["no_fallback_scsv"] == "not_applicable"


@pytest.mark.parametrize(("protocol", "offered_by", "not_by"), [
    ("SSLv2", "sim-sslv2", "nginx-modern"),
    ("SSLv3", "tlslite-sslv3", "nginx-modern"),
    ("TLSv1.0", "s_server-legacy", "nginx-modern"),
    ("TLSv1.1", "s_server-legacy", "nginx-modern"),
    ("TLSv1.2", "nginx-modern", "tlslite-sslv3"),
    ("TLSv1.3", "nginx-modern", "s_server-legacy"),
])
def test_protocol_detection(matrix, protocol: str, offered_by: str, not_by: str) -> None:
    assert matrix.scan(offered_by)["protocols"][protocol] is True
    assert matrix.scan(not_by)["protocols"][protocol] is False


def test_modern_nginx_ciphers_order_and_connection_budget(matrix) -> None:
    result = matrix.scan("nginx-modern")
    names = [c["name"] for c in result["ciphers"]["TLSv1.2"]]
    assert names[0] == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"  # nginx's own order, enforced
    assert set(names) == {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                          "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"}
    assert {c["name"] for c in result["ciphers"]["TLSv1.3"]} == {
        "TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"}
    assert result["server_cipher_order"] is True
    assert all(not c["weak"] for suites in result["ciphers"].values() for c in suites)
    assert result["connections"] <= 45
    assert result["grade"] == "A+"
    assert result["errors"] == []


def test_client_order_server_is_reported(matrix) -> None:
    assert matrix.scan("s_server-legacy")["server_cipher_order"] is False


def test_weak_cipher_names_carry_reasons(matrix) -> None:
    weak = {w["name"]: w for w in matrix.scan("s_server-legacy")["weak_ciphers"]}
    assert "NULL cipher: no encryption" in weak["TLS_RSA_WITH_NULL_SHA"]["reasons"]
    assert any("anonymous" in r for r in weak["TLS_DH_anon_WITH_AES_128_CBC_SHA"]["reasons"])
    assert "TLSv1.0" in weak["TLS_RSA_WITH_NULL_SHA"]["protocols"]
    rc4 = {w["name"]: w for w in matrix.scan("gnutls-weak")["weak_ciphers"]}
    assert "RC4 stream cipher is broken" in rc4["TLS_RSA_WITH_RC4_128_SHA"]["reasons"]


CERTIFICATE_FLAG_CASES = [
    ("expired", "nginx-expired", "nginx-modern"),
    ("not_yet_valid", "nginx-future", "nginx-modern"),
    ("self_signed", "nginx-selfsigned", "nginx-modern"),
    ("untrusted", "nginx-untrusted", "nginx-modern"),
    ("weak_signature", "nginx-weakcert", "nginx-modern"),
    ("weak_key", "nginx-weakcert", "nginx-modern"),
    ("expiring_soon", "nginx-selfsigned", "nginx-modern"),
]


@pytest.mark.parametrize(("flag", "flawed", "sound"), CERTIFICATE_FLAG_CASES)
def test_certificate_flags(matrix, flag: str, flawed: str, sound: str) -> None:
    assert matrix.scan(flawed)["certificate"][flag] is True
    assert matrix.scan(sound)["certificate"][flag] is False


def test_flags_are_independent(matrix) -> None:
    expired = matrix.scan("nginx-expired")["certificate"]
    assert expired["expired"] and not expired["untrusted"] and not expired["self_signed"]
    weak = matrix.scan("nginx-weakcert")["certificate"]
    assert weak["weak_signature"] and weak["weak_key"] and not weak["untrusted"]
    assert weak["key_size"] == 1024 and "sha1" in weak["signature_algorithm"].lower()
    selfsigned = matrix.scan("nginx-selfsigned")["certificate"]
    assert selfsigned["self_signed"] and selfsigned["untrusted"]


def test_hostname_mismatch(matrix) -> None:
    assert matrix.scan("nginx-modern", host="wrong.example")["certificate"]["hostname_mismatch"] is True
    assert matrix.scan("nginx-modern", host="wrong.example")["grade"] == "M"
    assert matrix.scan("nginx-modern")["certificate"]["hostname_mismatch"] is False


@pytest.mark.parametrize(("server", "status", "source"), [
    ("s_server-staple", "revoked", "staple"),
    ("nginx-modern", "good", "staple"),
    ("nginx-revoked-ocsp", "revoked", "ocsp"),
    ("imap", "good", "ocsp"),
    ("nginx-revoked-crl", "revoked", "crl"),
    ("nginx-untrusted", "unknown", None),
])
def test_revocation(matrix, server: str, status: str, source: str | None) -> None:
    starttls = server if server in ("imap",) else None
    cert = matrix.scan(server, starttls=starttls)["certificate"]
    assert (cert["revocation"], cert["revocation_source"]) == (status, source)


def test_revoked_certificate_grades_t(matrix) -> None:
    assert matrix.scan("s_server-staple")["grade"] == "T"


def test_hsts(matrix) -> None:
    hsts = matrix.scan("nginx-modern")["hsts"]
    assert hsts["present"] and hsts["max_age"] == 31536000 and hsts["include_subdomains"] and not hsts["preload"]
    absent = matrix.scan("nginx-expired")["hsts"]
    assert absent["checked"] and not absent["present"] and absent["max_age"] is None


@pytest.mark.parametrize("service", ["smtp", "imap", "pop3", "postgres", "ftp", "ldap"])
def test_starttls_services(matrix, service: str) -> None:
    result = matrix.scan(service, starttls=service)
    assert result["target"]["starttls"] == service
    assert result["protocols"]["TLSv1.2"] and result["certificate"]["subject"] == "CN=localhost"
    assert result["chain_pem"][0].startswith("-----BEGIN CERTIFICATE-----")
    assert result["hsts"]["checked"] is False


def test_starttls_service_scanned_as_plain_tls_reports_errors(matrix) -> None:
    result = matrix.scan("smtp", starttls="none")
    assert not any(result["protocols"].values())
    assert result["errors"] and result["grade"] == "-"


def test_client_certificate_required_still_yields_the_served_certificate(matrix) -> None:
    result = matrix.scan("nginx-clientauth")
    assert result["certificate"]["subject"] == "CN=localhost"
    assert result["protocols"]["TLSv1.3"]


@pytest.mark.parametrize(("server", "grade"), [
    ("nginx-modern", "A+"), ("s_server-reneg", "A"), ("sim-nofallback", "B"), ("sim-compression", "C"),
    ("s_server-legacy", "F"), ("sim-heartbleed", "F"), ("nginx-selfsigned", "T"),
])
def test_grades(matrix, server: str, grade: str) -> None:
    assert matrix.scan(server)["grade"] == grade

"""A grade following the SSL Labs rating guide as testssl.sh implements it: weighted score, then caps,
then T (trust problems) and M (name mismatch), which replace the letter."""

from __future__ import annotations

from typing import Any

PROTOCOL_SCORE = {"SSLv2": 0, "SSLv3": 80, "TLSv1.0": 90, "TLSv1.1": 95, "TLSv1.2": 100, "TLSv1.3": 100}
LETTERS = ((80, "A"), (65, "B"), (50, "C"), (35, "D"), (20, "E"))
ORDER = "A B C D E F".split()
HSTS_A_PLUS_SECONDS = 15552000  # 180 days


def key_score(key_type: str, size: int) -> int:
    if key_type == "EC":
        steps = ((110, 20), (123, 40), (163, 80), (225, 90))
    else:
        steps = ((512, 20), (1024, 40), (2048, 80), (4096, 90))
    return next((score for limit, score in steps if size < limit), 100)


def cipher_score(bits: int) -> int:
    if bits >= 256:
        return 100
    if bits >= 128:
        return 80
    return 20 if bits > 0 else 0


def _score(result: dict[str, Any]) -> tuple[int, list[str]]:
    offered = [p for p, on in result["protocols"].items() if on]
    proto = (max(PROTOCOL_SCORE[p] for p in offered) + min(PROTOCOL_SCORE[p] for p in offered)) / 2
    bits = [int(c.get("bits", 0)) for suites in result["ciphers"].values() for c in suites]
    cipher = (cipher_score(max(bits)) + cipher_score(min(bits))) / 2 if bits else 0
    cert = result.get("certificate") or {}
    kx = key_score(cert.get("key_type", "RSA"), int(cert.get("key_size", 2048))) if cert else 100
    kx = min(kx, _ephemeral_score(result))  # the weaker of the certificate key and the DHE/ECDHE parameters
    reasons = []
    if 0 in (proto, kx, cipher):
        reasons.append("a category scored zero")
        return 0, reasons
    return round(0.3 * proto + 0.3 * kx + 0.4 * cipher), reasons


def _ephemeral(result: dict[str, Any]) -> tuple[str | None, int | None]:
    kex = result.get("key_exchange") or {}
    return kex.get("kind"), (int(kex["bits"]) if kex.get("bits") else None)


def _ephemeral_score(result: dict[str, Any]) -> int:
    kind, bits = _ephemeral(result)
    return 100 if kind is None or bits is None else key_score("EC" if kind == "ECDHE" else "DH", bits)


def _caps(result: dict[str, Any]) -> list[tuple[str, str]]:
    protos, vulns = result["protocols"], result["vulnerabilities"]
    cert = result.get("certificate") or {}
    suites = [c for ss in result["ciphers"].values() for c in ss]
    modern = any(protos.get(p) for p in ("TLSv1.1", "TLSv1.2", "TLSv1.3"))
    caps: list[tuple[str, str]] = []

    def cap(letter: str, reason: str, when: bool) -> None:
        if when:
            caps.append((letter, reason))

    cap("F", "SSLv2 offered", protos.get("SSLv2", False))
    cap("F", "SSLv3 is the best protocol", protos.get("SSLv3", False) and not any(
        protos.get(p) for p in ("TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")))
    for name, reason in (("export_ciphers", "EXPORT ciphers"), ("heartbleed", "Heartbleed"),
                         ("ccs_injection", "CCS injection"), ("robot", "ROBOT"),
                         ("anonymous_ciphers", "anonymous ciphers"), ("null_ciphers", "NULL ciphers"),
                         ("insecure_renegotiation", "insecure renegotiation")):
        cap("F", reason, vulns.get(name) == "vulnerable")
    cap("F", "cipher below 112 bits", any(0 < int(c.get("bits", 0)) < 112 for c in suites))
    cap("F", "MD5 signature", "md5" in str(cert.get("signature_algorithm", "")).lower())
    cap("F", "insecure key", bool(cert) and key_score(cert.get("key_type", "RSA"), int(cert.get("key_size", 0))) <= 40)
    kind, kex_bits = _ephemeral(result)
    cap("F", f"DH parameters of {kex_bits} bits (Logjam)", kind == "DHE" and (kex_bits or 2048) < 1024)
    cap("F", f"ECDHE curve of {kex_bits} bits", kind == "ECDHE" and _ephemeral_score(result) <= 40)
    cap("C", "POODLE (SSLv3 with CBC)", vulns.get("poodle_ssl") == "vulnerable")
    cap("C", "TLS compression (CRIME)", vulns.get("compression") == "vulnerable")
    cap("C", "TLS 1.2 not offered", not protos.get("TLSv1.2", False))
    cap("C", "RC4 with TLS 1.1 or newer", vulns.get("rc4") == "vulnerable" and modern)
    cap("C", "64-bit block cipher with TLS 1.1 or newer", vulns.get("sweet32") == "vulnerable" and modern)
    cap("B", "SSLv3, TLS 1.0 or TLS 1.1 offered", any(protos.get(p) for p in ("SSLv3", "TLSv1.0", "TLSv1.1")))
    cap("B", "RC4 offered", vulns.get("rc4") == "vulnerable")
    cap("B", "no forward secrecy", bool(suites) and not any("no forward secrecy" not in c["reasons"] for c in suites))
    cap("B", "no AEAD cipher", bool(suites) and not any(str(c["name"]).endswith(("GCM_SHA256", "GCM_SHA384",
                                                                              "POLY1305_SHA256", "CCM", "CCM_8"))
                                                        for c in suites))
    cap("B", "weak key", bool(cert.get("weak_key")))
    cap("B", f"DH parameters of {kex_bits} bits", kind == "DHE" and 1024 <= (kex_bits or 2048) < 2048)
    return caps


def _trust_reasons(cert: dict[str, Any]) -> list[str]:
    flags = (("expired", "certificate expired"), ("not_yet_valid", "certificate not yet valid"),
             ("self_signed", "self-signed certificate"), ("untrusted", "chain not trusted"),
             ("weak_signature", "SHA-1/MD5 signature in the chain"))
    reasons = [text for key, text in flags if cert.get(key)]
    if cert.get("revocation") == "revoked":
        reasons.append("certificate revoked")
    return reasons


def grade(result: dict[str, Any]) -> tuple[str, list[str]]:
    """(grade, reasons): A+..F, or T/M when the certificate cannot be trusted or does not match."""
    if not any(result["protocols"].values()):
        return "-", ["no protocol offered"]
    score, reasons = _score(result)
    letter = next((grade for limit, grade in LETTERS if score >= limit), "F")
    for cap_letter, reason in _caps(result):
        reasons.append(f"capped at {cap_letter}: {reason}")
        if ORDER.index(cap_letter) > ORDER.index(letter):
            letter = cap_letter
    cert = result.get("certificate") or {}
    trust = _trust_reasons(cert)
    if trust:
        return "T", reasons + trust
    if cert.get("hostname_mismatch"):
        return "M", reasons + ["certificate name does not match"]
    return _plus_or_minus(letter, result, reasons), reasons


def _plus_or_minus(letter: str, result: dict[str, Any], reasons: list[str]) -> str:
    if letter != "A":
        return letter
    hsts = result.get("hsts") or {}
    if result["vulnerabilities"].get("no_fallback_scsv") == "vulnerable":
        reasons.append("no A+: TLS_FALLBACK_SCSV missing")
        return "A"
    if not hsts.get("present") or int(hsts.get("max_age") or 0) < HSTS_A_PLUS_SECONDS:
        reasons.append("no A+: HSTS missing or shorter than 180 days")
        return "A"
    return "A+"

"""Pure reading of one scan result: its weaknesses, its summary, and what changed since the last one.

A finding is a short stable name ("heartbleed", "protocol:TLSv1.0", "certificate:expired",
"weak_ciphers"). Findings are stored per endpoint (for the 'vulnerable to X' filter) and the
difference between two consecutive reachable results becomes change events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

LEGACY_PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1")
PROTOCOL_ORDER = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")

VULNERABILITY_LABELS = {
    "heartbleed": "Heartbleed (CVE-2014-0160): server memory can be read",
    "ccs_injection": "CCS injection (CVE-2014-0224)",
    "poodle_ssl": "POODLE: SSLv3 with CBC ciphers",
    "robot": "ROBOT: RSA padding oracle",
    "insecure_renegotiation": "no secure renegotiation (RFC 5746)",
    "client_renegotiation": "client-initiated renegotiation allowed (DoS)",
    "compression": "TLS compression (CRIME)",
    "no_fallback_scsv": "no TLS_FALLBACK_SCSV: downgrade protection missing",
    "sweet32": "64-bit block ciphers (SWEET32)",
    "rc4": "RC4 ciphers",
    "null_ciphers": "NULL ciphers: no encryption",
    "anonymous_ciphers": "anonymous ciphers: no authentication",
    "export_ciphers": "EXPORT ciphers",
}
CERTIFICATE_LABELS = {
    "expired": "certificate expired",
    "not_yet_valid": "certificate not yet valid",
    "self_signed": "self-signed certificate",
    "untrusted": "certificate chain not trusted",
    "hostname_mismatch": "certificate does not match the host name",
    "weak_signature": "MD5 or SHA-1 signature in the chain",
    "weak_key": "weak key (RSA < 2048 or EC < 224 bits)",
    "revoked": "certificate revoked",
}
WEAK_CIPHERS = "weak_ciphers"
WEAK_KEY_EXCHANGE = "weak_key_exchange"

EVENT_TYPES = ("weakness_found", "weakness_fixed", "certificate_changed", "grade_changed", "expiry_warning",
               "unreachable", "reachable")


def describe(finding: str) -> str:
    """Words for a finding name, for tables, events and tickets."""
    kind, _, name = finding.partition(":")
    if kind == "protocol":
        return f"legacy protocol {name} offered"
    if kind == "certificate":
        return CERTIFICATE_LABELS.get(name, name.replace("_", " "))
    if finding == WEAK_CIPHERS:
        return "weak cipher suites accepted"
    if finding == WEAK_KEY_EXCHANGE:
        return "weak ephemeral key exchange (DH under 2048 bits or a small curve; Logjam under 1024)"
    return VULNERABILITY_LABELS.get(finding, finding.replace("_", " "))


def all_finding_names() -> list[str]:
    """Every finding the filter accepts, in display order."""
    return [*VULNERABILITY_LABELS, *(f"protocol:{p}" for p in LEGACY_PROTOCOLS),
            *(f"certificate:{c}" for c in CERTIFICATE_LABELS), WEAK_CIPHERS, WEAK_KEY_EXCHANGE]


@dataclass(frozen=True)
class CertificateSummary:
    fingerprint: str | None
    subject: str | None
    serial: str | None
    not_after: str | None
    days_left: int | None
    expiring_soon: bool
    expired: bool

    def as_dict(self) -> dict[str, Any]:
        return {"fingerprint_sha256": self.fingerprint, "subject": self.subject, "serial": self.serial,
                "not_after": self.not_after, "days_left": self.days_left}


@dataclass(frozen=True)
class Snapshot:
    """What the change detection compares between two results."""

    reachable: bool
    grade: str | None
    protocols: tuple[str, ...]
    findings: frozenset[str]
    weak_ciphers: dict[str, list[str]] = field(default_factory=dict)  # name -> reasons
    certificate: CertificateSummary | None = None
    errors: tuple[str, ...] = ()


def offered_protocols(result: dict[str, Any]) -> tuple[str, ...]:
    offered = result.get("protocols") or {}
    return tuple(p for p in PROTOCOL_ORDER if offered.get(p) is True)


def weak_cipher_list(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every weak suite the endpoint accepts, per protocol, with the reasons (for tickets)."""
    rows: list[dict[str, Any]] = []
    for protocol in PROTOCOL_ORDER:
        for suite in (result.get("ciphers") or {}).get(protocol) or []:
            if suite.get("weak"):
                rows.append({"protocol": protocol, "code": suite.get("code"), "name": suite.get("name"),
                             "reasons": list(suite.get("reasons") or [])})
    return rows


def is_reachable(result: dict[str, Any]) -> bool:
    """Unreachable means nothing was learnt: errors and no protocol answered."""
    if isinstance(result.get("reachable"), bool):
        return bool(result["reachable"])
    return not (result.get("errors") and not offered_protocols(result))


def snapshot(result: dict[str, Any]) -> Snapshot:
    reachable = is_reachable(result)
    protocols = offered_protocols(result)
    weak: dict[str, list[str]] = {}
    for row in weak_cipher_list(result):
        weak.setdefault(str(row["name"]), row["reasons"])
    return Snapshot(
        reachable=reachable,
        grade=(result.get("grade") or None) if reachable else None,
        protocols=protocols,
        findings=frozenset(_findings(result, protocols, weak)) if reachable else frozenset(),
        weak_ciphers=weak,
        certificate=_certificate(result.get("certificate")),
        errors=tuple(str(e) for e in result.get("errors") or ()),
    )


def _findings(result: dict[str, Any], protocols: tuple[str, ...], weak: dict[str, list[str]]) -> set[str]:
    found = {name for name, verdict in (result.get("vulnerabilities") or {}).items() if verdict == "vulnerable"}
    found |= {f"protocol:{p}" for p in protocols if p in LEGACY_PROTOCOLS}
    cert = result.get("certificate") or {}
    found |= {f"certificate:{flag}" for flag in CERTIFICATE_LABELS if flag != "revoked" and cert.get(flag) is True}
    if cert.get("revocation") == "revoked":
        found.add("certificate:revoked")
    if weak:
        found.add(WEAK_CIPHERS)
    if (result.get("key_exchange") or {}).get("weak") is True:
        found.add(WEAK_KEY_EXCHANGE)
    return found


def _certificate(cert: dict[str, Any] | None) -> CertificateSummary | None:
    if not cert or not (cert.get("fingerprint_sha256") or cert.get("serial")):
        return None
    days_left = cert.get("days_left")
    expiring = cert.get("expiring_soon")
    if expiring is None:  # older engine output: derive it from the default 30-day window
        expiring = isinstance(days_left, int) and 0 <= days_left <= 30
    return CertificateSummary(
        fingerprint=cert.get("fingerprint_sha256") or None, subject=cert.get("subject"),
        serial=cert.get("serial"), not_after=cert.get("not_after"), days_left=days_left,
        expiring_soon=bool(expiring), expired=bool(cert.get("expired")),
    )


def parse_not_after(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class Change:
    """One event to record: type, the finding it is about, before/after and details."""

    type: str
    subject: str | None = None
    before: Any = None
    after: Any = None
    details: dict[str, Any] = field(default_factory=dict)


def changes(previous: Snapshot | None, current: Snapshot, was_unreachable: bool) -> list[Change]:
    """The events between the last reachable result (None for the first scan) and this one."""
    if not current.reachable:
        if was_unreachable:
            return []
        return [Change("unreachable", before="ok" if previous else None, after="unreachable",
                       details={"errors": list(current.errors)})]
    found: list[Change] = []
    if was_unreachable:
        found.append(Change("reachable", before="unreachable", after="ok"))
    found += _weakness_changes(previous, current)
    if previous is not None:
        found += _certificate_and_grade_changes(previous, current)
    found += _expiry_warning(previous, current)
    return found


def _weakness_changes(previous: Snapshot | None, current: Snapshot) -> list[Change]:
    before = previous.findings if previous else frozenset()
    out = [Change("weakness_found", name, False, True, _weakness_details(name, current))
           for name in sorted(current.findings - before)]
    out += [Change("weakness_fixed", name, True, False, {"description": describe(name)})
            for name in sorted(before - current.findings)]
    if previous is not None and WEAK_CIPHERS in before & current.findings:
        added = sorted(set(current.weak_ciphers) - set(previous.weak_ciphers))
        removed = sorted(set(previous.weak_ciphers) - set(current.weak_ciphers))
        if added:
            out.append(Change("weakness_found", WEAK_CIPHERS, sorted(previous.weak_ciphers),
                              sorted(current.weak_ciphers),
                              {"description": "more weak cipher suites accepted",
                               "ciphers_added": [{"name": n, "reasons": current.weak_ciphers[n]} for n in added]}))
        if removed:
            out.append(Change("weakness_fixed", WEAK_CIPHERS, sorted(previous.weak_ciphers),
                              sorted(current.weak_ciphers),
                              {"description": "fewer weak cipher suites accepted", "ciphers_removed": removed}))
    return out


def _weakness_details(name: str, current: Snapshot) -> dict[str, Any]:
    details: dict[str, Any] = {"description": describe(name)}
    if name == WEAK_CIPHERS:
        details["ciphers"] = [{"name": n, "reasons": r} for n, r in sorted(current.weak_ciphers.items())]
    return details


def _certificate_and_grade_changes(previous: Snapshot, current: Snapshot) -> list[Change]:
    out: list[Change] = []
    old, new = previous.certificate, current.certificate
    if old and new and old.fingerprint and new.fingerprint and old.fingerprint != new.fingerprint:
        out.append(Change("certificate_changed", None, old.as_dict(), new.as_dict()))
    if previous.grade and current.grade and previous.grade != current.grade:
        out.append(Change("grade_changed", None, previous.grade, current.grade))
    return out


def _expiry_warning(previous: Snapshot | None, current: Snapshot) -> list[Change]:
    new = current.certificate
    if new is None or not new.expiring_soon or new.expired:
        return []
    old = previous.certificate if previous else None
    if old is not None and old.expiring_soon and old.fingerprint == new.fingerprint:
        return []  # already warned about this certificate
    return [Change("expiry_warning", None, old.days_left if old else None, new.days_left,
                   {"not_after": new.not_after, "subject": new.subject, "fingerprint_sha256": new.fingerprint})]

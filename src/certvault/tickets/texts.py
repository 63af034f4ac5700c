"""The words of every ticket and note, exactly as issue 13 gives them, and the correlation keys. Pure.

Dates read `Jul 23, 2020`; every text ends with `Scanned by: certvault running at <public URL>`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from certvault.plugins.protocols import TicketDraft


def day(when: datetime | None) -> str:
    """`Jul 23, 2020` (the day without a leading zero is `Jul 3, 2020`)."""
    return "unknown" if when is None else f"{when:%b} {when.day}, {when.year}"


def scanned_by(public_url: str) -> str:
    return f"Scanned by: certvault running at {public_url}"


def correlation_key(kind: str, key: str) -> str:
    """certvault's dedupe key for one (kind, key): short, one token (a Jira label, an SDP subject tag)."""
    digest = hashlib.sha256(f"{kind}\0{key.lower()}".encode()).hexdigest()[:24]
    return f"certvault-{'exp' if kind == 'expiry' else 'vul'}-{digest}"


@dataclass(frozen=True)
class ExpiryFacts:
    serial: str
    common_name: str
    not_after: datetime | None
    ip: str = ""


@dataclass(frozen=True)
class VulnerabilityFacts:
    domain: str
    ip: str
    common_name: str
    serial: str
    weak_ciphers: Sequence[str] = ()  # IANA names of the weak suites only
    findings: Sequence[str] = ()  # revocation (OCSP/CRL), Heartbleed, POODLE ... in words
    signature_algorithm: str = ""
    not_after: datetime | None = None
    scanned_at: datetime | None = None
    extra: Sequence[str] = field(default_factory=tuple)

    @property
    def key(self) -> str:
        return f"{self.domain}@{self.ip}"


def expiry_subject(facts: ExpiryFacts) -> str:
    return f"SSL Certificate {facts.common_name} expiry"


def expiry_body(facts: ExpiryFacts, public_url: str, replaces: str | None = None) -> str:
    lines = [f"The SSL Certificate {facts.common_name} expiring soon, please take care",
             f"Common Name: {facts.common_name}", f"Expiry Date: {day(facts.not_after)}"]
    if replaces:
        lines.append(f"Previous ticket: {replaces} (closed; it cannot be reopened)")
    return "\n".join([*lines, scanned_by(public_url)])


def vulnerability_subject(facts: VulnerabilityFacts) -> str:
    return f"Vulnerabilities for {facts.domain}"


def vulnerability_results(facts: VulnerabilityFacts, public_url: str) -> str:
    """The scan results: the ticket's body, and the note added after a later scan."""
    lines = [facts.domain, facts.common_name, facts.ip]
    if facts.weak_ciphers:
        lines += ["Weak ciphers in use, which should be removed", *facts.weak_ciphers]
    if facts.findings:
        lines += list(facts.findings)
        lines += [f"Signature Algorithm: {facts.signature_algorithm or 'unknown'}",
                  f"Expiry Date: {day(facts.not_after)}"]
    lines.append(f"Scan Time: {facts.scanned_at:%b} {facts.scanned_at.day}, {facts.scanned_at:%Y %H:%M} UTC"
                 if facts.scanned_at else "Scan Time: unknown")
    return "\n".join([*lines, scanned_by(public_url)])


def vulnerability_body(facts: VulnerabilityFacts, public_url: str, replaces: str | None = None) -> str:
    body = vulnerability_results(facts, public_url)
    if replaces:
        return f"Previous ticket: {replaces} (closed; it cannot be reopened)\n{body}"
    return body


def expiry_draft(facts: ExpiryFacts, public_url: str, replaces: str | None = None) -> TicketDraft:
    return TicketDraft(expiry_subject(facts), expiry_body(facts, public_url, replaces),
                       correlation_key("expiry", facts.serial))


def vulnerability_draft(facts: VulnerabilityFacts, public_url: str, replaces: str | None = None) -> TicketDraft:
    return TicketDraft(vulnerability_subject(facts), vulnerability_body(facts, public_url, replaces),
                       correlation_key("vulnerability", facts.key))


def reopen_note(kind: str, public_url: str) -> str:
    why = ("the certificate has not been renewed yet" if kind == "expiry"
           else "the latest scan still finds the weaknesses")
    return f"Reopened by certvault: {why}.\n{scanned_by(public_url)}"


def renewed_note(common_name: str, serial: str, not_after: datetime | None, public_url: str) -> str:
    return (f"The SSL Certificate {common_name} has been renewed and the new version stored "
            f"(serial {serial}, expires {day(not_after)}).\n{scanned_by(public_url)}")


def clean_note(facts: VulnerabilityFacts, public_url: str) -> str:
    return (f"A later scan of {facts.domain} ({facts.ip}) found no weaknesses"
            + (f" at {day(facts.scanned_at)}" if facts.scanned_at else "") + f".\n{scanned_by(public_url)}")

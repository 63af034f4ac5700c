"""Validate what a request names, before anything reaches a CA."""

from __future__ import annotations

import ipaddress
import re

from certvault.errors import InvalidInput

MAX_NAMES = 100
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise_name(raw: str) -> tuple[str, str]:
    """('dns', 'www.example.com') or ('ip', '192.0.2.1'); IDNs become punycode."""
    text = raw.strip().rstrip(".").lower()
    if not text:
        raise InvalidInput("an empty domain name was given")
    try:
        return "ip", str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        pass
    wildcard = text.startswith("*.")
    body = text[2:] if wildcard else text
    try:
        ascii_body = body.encode("idna").decode("ascii") if not body.isascii() else body
    except UnicodeError:
        raise InvalidInput(f"{raw!r} is not a valid domain name") from None
    labels = ascii_body.split(".")
    if "*" in ascii_body:
        raise InvalidInput(f"{raw!r}: a wildcard may only be the whole leftmost label (*.example.com)")
    if len(labels) < 2 or len(ascii_body) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InvalidInput(f"{raw!r} is not a valid domain name")
    if labels[-1].isdigit():
        raise InvalidInput(f"{raw!r} is not a valid domain name (the last label is numeric)")
    return "dns", ("*." if wildcard else "") + ascii_body


def validate_names(raw_names: list[str], challenge_type: str) -> list[tuple[str, str]]:
    """Normalised, de-duplicated identifiers; the first is the common name."""
    if not raw_names:
        raise InvalidInput("give at least one domain (--domain)")
    seen: dict[str, tuple[str, str]] = {}
    for raw in raw_names:
        kind, value = normalise_name(raw)
        seen.setdefault(value, (kind, value))
    names = list(seen.values())
    if len(names) > MAX_NAMES:
        raise InvalidInput(f"{len(names)} names given; an ACME certificate may have at most {MAX_NAMES}")
    for kind, value in names:
        if value.startswith("*.") and challenge_type != "dns-01":
            raise InvalidInput(f"{value}: wildcard names can only be validated with dns-01")
        if kind == "ip" and challenge_type != "http-01":
            raise InvalidInput(f"{value}: IP addresses can only be validated with http-01")
    return names

"""DNS names as certificates carry them: ASCII (A-labels), letters-digits-hyphens, optional wildcard."""

from __future__ import annotations

import ipaddress
import re

from certvault.errors import InvalidInput

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def dns_name(value: str) -> str:
    """Return `value` as a lower-case A-label name; refuse anything a certificate cannot carry."""
    name = value.strip().rstrip(".").lower()
    wildcard = name.startswith("*.")
    body = name[2:] if wildcard else name
    try:
        ascii_name = body.encode("idna").decode("ascii")  # internationalised names become xn-- labels
    except (UnicodeError, ValueError):
        raise InvalidInput(f"{value!r} is not a valid DNS name") from None
    labels = ascii_name.split(".")
    if not ascii_name or len(ascii_name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InvalidInput(f"{value!r} is not a valid DNS name")
    return ("*." if wildcard else "") + ascii_name


def is_ip_address(text: str) -> bool:
    """An IPv4 or IPv6 address (not a name)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True

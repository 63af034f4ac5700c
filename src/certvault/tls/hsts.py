"""Strict-Transport-Security from an HTTP response head."""

from __future__ import annotations

from typing import Any

NON_HTTP_TLS_PORTS = frozenset({465, 563, 636, 853, 989, 990, 992, 993, 994, 995, 5061, 5223, 5671, 6514, 8883})


def parse_hsts(http_head: str | None) -> dict[str, Any]:
    """{"present", "max_age", "include_subdomains", "preload", "status"} from the header lines."""
    result: dict[str, Any] = {"present": False, "max_age": None, "include_subdomains": False, "preload": False,
                              "http_status": None}
    if not http_head:
        return result
    lines = http_head.split("\r\n")
    status = lines[0].split(" ")
    if len(status) >= 2 and status[1].isascii() and status[1].isdigit():
        result["http_status"] = int(status[1])
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() != "strict-transport-security":
            continue
        result["present"] = True
        for directive in (d.strip() for d in value.split(";")):
            key, _, arg = directive.partition("=")
            key = key.strip().lower()
            if key == "max-age":
                digits = arg.strip().strip('"')
                result["max_age"] = int(digits) if digits.isascii() and digits.isdigit() else None
            elif key == "includesubdomains":
                result["include_subdomains"] = True
            elif key == "preload":
                result["preload"] = True
        break  # RFC 6797 §8.1: only the first header counts
    return result

"""Error pages in words: headings per status, form validation problems named by field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

HEADINGS = {
    400: "That did not work", 401: "Log in first", 403: "Not allowed", 404: "Not found", 405: "Not allowed here",
    409: "Not possible right now", 413: "Too large", 422: "Check the form", 429: "Too many attempts",
    500: "Server error", 502: "A connected service failed",
}

_MESSAGES = {
    "missing": "is required",
    "uuid_parsing": "is not a valid id",
    "int_parsing": "must be a whole number",
    "float_parsing": "must be a number",
    "bool_parsing": "must be yes or no",
    "datetime_from_date_parsing": "must be a date and time",
    "datetime_parsing": "must be a date and time",
    "string_too_long": "is too long",
    "string_too_short": "is too short",
    "greater_than_equal": "is too small",
    "less_than_equal": "is too large",
}


def field_label(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return (parts[-1] if parts else "a field").replace("_", " ").replace(".", " ")


def problems(errors: Sequence[Any]) -> list[str]:
    """One sentence per field: 'username is required', 'days must be a whole number'."""
    found = []
    for error in errors[:20]:
        what = _MESSAGES.get(str(error.get("type", "")), str(error.get("msg", "is not valid")).lower())
        found.append(f"{field_label(error.get('loc', ()))} {what}".capitalize())
    return found

"""Keep secrets out of logs: URLs lose query values, user info and token-like path segments (as in
Slack-style webhook URLs: 20+ characters mixing letters and digits); secret headers lose their values.

`install_log_redaction()` also filters the records of httpx (which logs each request's full URL
at INFO) and httpcore (which logs response headers at DEBUG), so turning their logging up shows
no token either.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit, urlunsplit

MASK = "***"
_SECRET_HEADER = re.compile(r"auth|cookie|token|secret|passw|signature|session|(^|-)(api-?)?key$", re.IGNORECASE)
_URL = re.compile(r"\bhttps?://[^\s\"'<>]*[^\s\"'<>.,:;)\]]")  # not the sentence's punctuation after it
_HEADER_PAIR = re.compile(r"\((b?)(['\"])([!#$%&'*+.^_`|~0-9A-Za-z-]+)\2, (b?)(['\"])((?:\\.|(?!\5).)*)\5\)")
_TOKEN_SEGMENT = re.compile(r"^(?=.*[0-9])(?=.*[A-Za-z])[A-Za-z0-9_~.%+=-]{20,}$")
_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy",
            "httpcore.socks", "certvault.outbound")
_installed = False


def is_secret_header(name: str) -> bool:
    return bool(_SECRET_HEADER.search(name))


def redact_url(url: object) -> str:
    """The URL without user info, token-like path segments or query values (query names stay)."""
    parts = urlsplit(str(url))
    netloc = parts.netloc.rpartition("@")[2]
    path = "/".join(MASK if _TOKEN_SEGMENT.match(s) else s for s in parts.path.split("/"))
    query = "&".join(f"{name}={MASK}" for name, _value in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, MASK if is_secret_header(name) else value) for name, value in headers]


def redact_text(text: str) -> str:
    """Mask URLs' query values and secret (name, value) header pairs inside free text."""
    text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    return _HEADER_PAIR.sub(_mask_pair, text)


def _mask_pair(match: re.Match[str]) -> str:
    if not is_secret_header(match.group(3)):
        return match.group(0)
    b1, q1, name, b2, q2 = match.group(1, 2, 3, 4, 5)
    return f"({b1}{q1}{name}{q1}, {b2}{q2}{MASK}{q2})"


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = redact_text(text)
        if clean != text:
            record.msg, record.args = clean, None
        return True


def install_log_redaction() -> None:
    """Add the filter to the loggers of httpx, httpcore and this package (once per process)."""
    global _installed
    if _installed:
        return
    for name in _LOGGERS:
        logging.getLogger(name).addFilter(RedactingFilter())
    _installed = True

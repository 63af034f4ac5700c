"""The signed JSON POST that certvault's webhooks send (notification channels and the deploy target).

Headers: X-Certvault-Event, X-Certvault-Timestamp (unix seconds) and, with a signing secret,
X-Certvault-Signature: sha256=HEX(HMAC-SHA256(secret, "<timestamp>.<body>")), so a receiver can check the
call came from certvault and is fresh. Sent through the account's outbound client (trust, mutual TLS,
retries, proxy); a CA file named by the plugin's options is trusted when the account sets no trust.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator

from certvault.errors import IntegrationError
from certvault.plugins.protocols import HttpClientFactory

SIGNATURE_HEADER = "X-Certvault-Signature"


def _https_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("must be an https:// URL with a host")
    return value


HttpsUrl = Annotated[str, AfterValidator(_https_url)]
"""A webhook's address: https:// with a host."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def read_ca_file(path: str | None, label: str) -> str | None:
    if not path:
        return None
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise IntegrationError(f"{label}: cannot read ca_file {path}: {exc.strerror}") from None


def post_signed(http: HttpClientFactory | None, url: str, event: str, body: bytes, *, secret: str, label: str,
                timeout: float, ca_file: str | None = None, headers: Mapping[str, str] | None = None,
                user_agent: str = "certvault-webhook") -> int:
    """POST `body` (JSON) signed with `secret` ("" = unsigned); the HTTP status, or IntegrationError naming
    `label` and what went wrong (never the secret or the body)."""
    if http is None:
        raise IntegrationError(f"{label}: built without the outbound HTTPS client")
    timestamp = str(int(time.time()))
    sent = {**(headers or {}), "Content-Type": "application/json", "X-Certvault-Event": event,
            "X-Certvault-Timestamp": timestamp, "User-Agent": user_agent}
    if secret:
        sent[SIGNATURE_HEADER] = signature(secret, timestamp, body)
    try:
        with http(ca_bundle=read_ca_file(ca_file, label)) as client:
            response = client.post(url, content=body, headers=sent, timeout=httpx.Timeout(timeout))
    except httpx.HTTPError as exc:
        raise IntegrationError(f"{label} failed: {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise IntegrationError(f"{label} answered HTTP {response.status_code}")
    return int(response.status_code)

"""What an integration account sets about its HTTPS calls: one validated, frozen options model.

Certificates (`ca_bundle`, `pinned_certificate`) are stored as PEM text whatever they were given
as (PEM text or bytes, DER bytes, or DER in base64), so the options stay plain JSON.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal, Self
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Trust = Literal["system", "ca_bundle", "pinned"]
_TRUST_FIELDS = {"ca_bundle": "ca_bundle", "pinned": "pinned_certificate"}  # the choice -> the field it needs


class ClientOptions(BaseModel):
    """Per-account settings of the outbound HTTPS client (see docs/integrations.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str | None = None
    connect_timeout: float = Field(default=10.0, gt=0, le=120)  # TCP connect + TLS handshake, seconds
    read_timeout: float = Field(default=30.0, gt=0, le=600)  # longest silence while sending or reading
    retries: int = Field(default=2, ge=0, le=10)  # tries after the first one
    backoff: float = Field(default=0.5, ge=0, le=60)  # first wait; doubles each retry, with jitter
    max_retry_wait: float = Field(default=30.0, ge=0, le=600)  # cap on one wait, backoff or Retry-After
    pacing_requests: int | None = Field(default=None, ge=1, le=100_000)  # None: no pacing
    pacing_interval: float = Field(default=1.0, gt=0, le=86_400)  # ... per this many seconds
    max_response_bytes: int = Field(default=10 * 1024 * 1024, ge=1, le=1024**3)
    proxy: str | None = None  # http://host:port; credentials are passed apart (proxy_auth)
    trust: Trust = "system"
    ca_bundle: str | None = None  # PEM: the CAs to trust instead of the system store
    pinned_certificate: str | None = None  # PEM (or DER): accept exactly this server certificate
    follow_redirects: bool = False
    allow_plain_http: bool = False  # http:// only for a loopback relay; secrets would travel in the clear

    @field_validator("ca_bundle", "pinned_certificate", mode="before")
    @classmethod
    def _certificates(cls, value: object) -> object:
        return None if value is None else as_pem_certificates(value)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("https", "http"):
            raise ValueError("must be an https:// URL")
        return value

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise ValueError("must not hold credentials; pass them as proxy_auth from the vault")
        return value

    @model_validator(mode="after")
    def _trust_fields(self) -> Self:
        for choice, field in _TRUST_FIELDS.items():
            value = getattr(self, field)
            if self.trust == choice and value is None:
                raise ValueError(f"trust {choice!r} needs {field}")
            if self.trust != choice and value is not None:
                raise ValueError(f"{field} is set but trust is {self.trust!r}")
        if self.base_url and self.base_url.startswith("http:") and not self.allow_plain_http:
            raise ValueError("base_url is plain http://; use https:// (or set allow_plain_http)")
        return self


def as_pem_certificates(value: object) -> str:
    """PEM text of one or more certificates given as PEM text/bytes, DER bytes or base64 DER."""
    if isinstance(value, str) and "-----BEGIN" not in value:
        try:
            value = base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not a PEM certificate, nor DER in base64") from None
    if not isinstance(value, str | bytes):
        raise ValueError("give the certificate as PEM text or DER bytes")
    data = value.encode() if isinstance(value, str) else value
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise ValueError("not a readable PEM or DER certificate") from None
    return "".join(c.public_bytes(Encoding.PEM).decode() for c in certs)

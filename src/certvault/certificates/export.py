"""Build export files: PEM, PKCS#12 or JKS, with or without the key and chain."""

from __future__ import annotations

import importlib
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from certvault.crypto import jks_codec, keys, pkcs12, x509info
from certvault.errors import InvalidInput

FORMATS = ("pem", "pkcs12", "jks")
MEDIA = {"pem": "application/x-pem-file", "pkcs12": "application/x-pkcs12", "jks": "application/x-java-keystore"}
EXTENSIONS = {"pem": "pem", "pkcs12": "p12", "jks": "jks"}
MIN_PASSWORD = 6  # keytool refuses shorter keystore passwords

# How an entry was asked to be delivered, recorded by another domain (the keystore type and password
# chosen on an ACME request): "module:function" taking (ctx, entry_id), returning (format, password)
# or None. Used when an export leaves the format or password out. Resolved lazily.
DEFAULTS_PROVIDERS: tuple[str, ...] = ("certvault.issuance.keystore:export_defaults",)


def recorded_defaults(ctx: Any, entry_id: uuid.UUID) -> tuple[str, str | None] | None:
    for ref in DEFAULTS_PROVIDERS:
        module, _, attr = ref.partition(":")
        found = getattr(importlib.import_module(module), attr)(ctx, entry_id)
        if found is not None:
            return found
    return None


def with_defaults(ctx: Any, entry_id: uuid.UUID, fmt: str | None, password: str | None
                  ) -> tuple[str, str | None, bool]:
    """(format, password, whether the recorded password is used) for an export that may leave them out."""
    if fmt is not None and password is not None:
        return fmt, password, False
    recorded = recorded_defaults(ctx, entry_id)
    if recorded is None:
        return fmt or "pem", password, False
    chosen = fmt or recorded[0]
    if password is None and chosen == recorded[0] and recorded[1]:
        return chosen, recorded[1], True
    return chosen, password, False


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    media_type: str
    filename: str


def check_request(fmt: str, with_key: bool, password: str | None) -> None:
    """Refuse an impossible export before anything is read or audited."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    needs_password = fmt != "pem" or with_key
    if needs_password and not password:
        what = "a private key" if fmt == "pem" else f"a {fmt.upper()} file"
        raise InvalidInput(f"a password is needed to protect {what}")
    if needs_password and password and len(password) < MIN_PASSWORD:
        raise InvalidInput(f"the export password must be at least {MIN_PASSWORD} characters (Java requires it)")


def build(fmt: str, name: str, cert: x509.Certificate, chain: list[x509.Certificate],
          key: PrivateKeyTypes | None, password: str | None) -> ExportFile:
    check_request(fmt, key is not None, password)
    safe = "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in name.replace("*", "wildcard"))[:64] or "cert"
    filename = f"{safe}.{EXTENSIONS[fmt]}"
    if fmt == "pem":
        body = b"".join(x509info.pem(c) for c in [cert, *chain])
        if key is not None:
            body = keys.to_pem(key, password.encode() if password else None) + body
        return ExportFile(body, MEDIA[fmt], filename)
    assert password is not None
    if fmt == "pkcs12":
        return ExportFile(pkcs12.export(name, key, cert, chain, password), MEDIA[fmt], filename)
    return ExportFile(jks_codec.export(_alias(name), key, cert, chain, password), MEDIA[fmt], filename)


def _alias(name: str) -> str:
    return (name.lower().replace("*", "wildcard") or "certificate")[:64]

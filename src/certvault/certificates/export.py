"""Build export files: PEM, PKCS#12 or JKS, with or without the key and chain."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from certvault.crypto import jks_codec, keys, pkcs12, x509info
from certvault.errors import InvalidInput

FORMATS = ("pem", "pkcs12", "jks")
MEDIA = {"pem": "application/x-pem-file", "pkcs12": "application/x-pkcs12", "jks": "application/x-java-keystore"}
EXTENSIONS = {"pem": "pem", "pkcs12": "p12", "jks": "jks"}
MIN_PASSWORD = 6  # keytool refuses shorter keystore passwords


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

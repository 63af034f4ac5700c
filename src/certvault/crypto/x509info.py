"""Describe an X.509 certificate: the fields the inventory stores, shows and searches."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtensionOID, NameOID

from certvault.crypto import keys


@dataclass(frozen=True)
class CertInfo:
    """Everything the inventory keeps about one certificate (besides its DER bytes)."""

    fingerprint_sha256: str
    spki_sha256: str
    subject: str
    common_name: str
    issuer: str
    issuer_cn: str
    serial: str
    not_before: datetime
    not_after: datetime
    key_algorithm: str
    key_size: int
    signature_algorithm: str
    sans: list[str] = field(default_factory=list)
    is_ca: bool = False
    self_signed: bool = False
    ski: str | None = None
    aki: str | None = None

    @property
    def names(self) -> list[str]:
        """The certificate's names (CN and SANs), lowercased, sorted, without duplicates."""
        return entry_names(self.common_name, self.sans)

    @property
    def names_key(self) -> str:
        """One string per set of names: renewals of the same names share it."""
        return names_key(self.names)


def entry_names(common_name: str, sans: list[str]) -> list[str]:
    found = {n.strip().lower().rstrip(".") for n in [common_name, *sans] if n and n.strip()}
    return sorted(found)


def names_key(names: list[str]) -> str:
    digest = hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()
    return digest[:40]


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def spki_sha256(public_key: PublicKeyTypes) -> str:
    return hashlib.sha256(keys.spki_der(public_key)).hexdigest()


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    attrs = name.get_attributes_for_oid(oid)
    if not attrs:
        return ""
    value = attrs[0].value
    return value if isinstance(value, str) else value.decode(errors="replace")


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    out: list[str] = [str(v) for v in ext.get_values_for_type(x509.DNSName)]
    out += [str(v) for v in ext.get_values_for_type(x509.IPAddress)]
    out += [f"email:{v}" for v in ext.get_values_for_type(x509.RFC822Name)]
    out += [f"uri:{v}" for v in ext.get_values_for_type(x509.UniformResourceIdentifier)]
    return out


def _ext_value(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> object | None:
    try:
        return cert.extensions.get_extension_for_oid(oid).value
    except (x509.ExtensionNotFound, ValueError):
        return None


def _is_ca(cert: x509.Certificate) -> bool:
    value = _ext_value(cert, ExtensionOID.BASIC_CONSTRAINTS)
    return bool(value is not None and value.ca)  # type: ignore[attr-defined]


def _ski(cert: x509.Certificate) -> str | None:
    value = _ext_value(cert, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    return value.digest.hex() if value is not None else None  # type: ignore[attr-defined]


def _aki(cert: x509.Certificate) -> str | None:
    value = _ext_value(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    ident = getattr(value, "key_identifier", None)
    return ident.hex() if ident else None


def _signature_name(cert: x509.Certificate) -> str:
    try:
        algo = cert.signature_algorithm_oid._name  # noqa: SLF001 - the readable OID name
    except Exception:
        algo = cert.signature_algorithm_oid.dotted_string
    return str(algo)


def describe(cert: x509.Certificate) -> CertInfo:
    public_key = cert.public_key()
    algorithm, size = keys.describe(public_key)
    aki, ski = _aki(cert), _ski(cert)
    self_signed = cert.issuer == cert.subject and (aki is None or aki == ski)
    return CertInfo(
        fingerprint_sha256=fingerprint(cert),
        spki_sha256=spki_sha256(public_key),
        subject=cert.subject.rfc4514_string(),
        common_name=_first(cert.subject, NameOID.COMMON_NAME),
        issuer=cert.issuer.rfc4514_string(),
        issuer_cn=_first(cert.issuer, NameOID.COMMON_NAME) or cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_algorithm=algorithm,
        key_size=size,
        signature_algorithm=_signature_name(cert),
        sans=_sans(cert),
        is_ca=_is_ca(cert),
        self_signed=self_signed,
        ski=ski,
        aki=aki,
    )

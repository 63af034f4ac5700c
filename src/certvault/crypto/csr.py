"""Certificate signing requests: subject + SANs signed by a new key (keytool -genkey + -certreq)."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from certvault.crypto import issuing, keys
from certvault.errors import InvalidInput

# In the conventional encoding order (C first, CN last), as keytool and openssl write them.
_SUBJECT_FIELDS = {
    "country": NameOID.COUNTRY_NAME,
    "state": NameOID.STATE_OR_PROVINCE_NAME,
    "locality": NameOID.LOCALITY_NAME,
    "organization": NameOID.ORGANIZATION_NAME,
    "organizational_unit": NameOID.ORGANIZATIONAL_UNIT_NAME,
}


_HASHES: dict[str, hashes.SHA256 | hashes.SHA384 | hashes.SHA512] = {
    "sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512(),
}


@dataclass(frozen=True)
class CsrSpec:
    common_name: str
    sans: tuple[str, ...] = ()
    key_spec: str = "ec256"
    hash_name: str = "sha256"
    organization: str | None = None
    organizational_unit: str | None = None
    locality: str | None = None
    state: str | None = None
    country: str | None = None


def subject_of(spec: CsrSpec) -> x509.Name:
    if not spec.common_name.strip() or len(spec.common_name.strip().encode()) > 64:
        raise InvalidInput("the common name must be 1 to 64 characters (64 bytes in UTF-8)")
    attrs = []
    for attr, oid in _SUBJECT_FIELDS.items():
        value = getattr(spec, attr)
        if value:
            if oid == NameOID.COUNTRY_NAME and not (len(value) == 2 and value.isascii() and value.isalpha()):
                raise InvalidInput(f"country must be a two-letter code, not {value!r}")
            attrs.append(x509.NameAttribute(oid, value))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, spec.common_name.strip()))
    return x509.Name(attrs)


def build(spec: CsrSpec) -> tuple[x509.CertificateSigningRequest, keys.SigningKey]:
    """A new key of `spec.key_spec` and a CSR signed by it. The CN is added to the SANs."""
    if spec.hash_name not in _HASHES:
        raise InvalidInput(f"unknown signature hash {spec.hash_name!r}; choose one of {', '.join(_HASHES)}")
    subject = subject_of(spec)
    key = keys.generate(spec.key_spec)
    names = list(dict.fromkeys([spec.common_name.strip(), *[s.strip() for s in spec.sans if s.strip()]]))
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject).add_extension(
        x509.SubjectAlternativeName(issuing.general_names(names)), critical=False
    )
    algorithm = _HASHES[spec.hash_name]
    return builder.sign(key, algorithm), key


def to_pem(request: x509.CertificateSigningRequest) -> bytes:
    return request.public_bytes(serialization.Encoding.PEM)

"""Build and sign certificates for the internal CA (root, intermediate, server, client)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certvault.crypto.keys import SigningKey
from certvault.crypto.names import dns_name

HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}


@dataclass(frozen=True)
class Profile:
    is_ca: bool = False
    path_length: int | None = None
    server: bool = False
    client: bool = False


ROOT = Profile(is_ca=True, path_length=1)
INTERMEDIATE = Profile(is_ca=True, path_length=0)
SERVER = Profile(server=True)
CLIENT = Profile(client=True)


def name(common_name: str, organization: str | None = "certvault") -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def general_names(values: list[str], keep_case: bool = False) -> list[x509.GeneralName]:
    """`keep_case`: a valid ASCII name stays as given (client certificates: mTLS servers match `itAuth` exactly)."""
    result: list[x509.GeneralName] = []
    for value in values:
        try:
            result.append(x509.IPAddress(ipaddress.ip_address(value)))
        except ValueError:
            checked = dns_name(value)
            given = value.strip().rstrip(".")
            result.append(x509.DNSName(given if keep_case and given.lower() == checked else checked))
    return result


def sign(
    *,
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    issuer: x509.Name,
    issuer_key: SigningKey,
    profile: Profile,
    days: int,
    sans: list[str] | None = None,
    hash_name: str = "sha256",
    issuer_cert: x509.Certificate | None = None,
    not_after: datetime | None = None,
) -> x509.Certificate:
    """`not_after` (optional) replaces `days` for lifetimes shorter than a day (agent certificates in tests)."""
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(not_after or now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=profile.is_ca, path_length=profile.path_length), True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
    )
    aki_source = issuer_cert.public_key() if issuer_cert is not None else public_key
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(aki_source), False  # type: ignore[arg-type]
    )
    builder = builder.add_extension(_key_usage(profile, public_key), True)
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if profile.server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if profile.client else []
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(general_names(sans, profile.client)), False)
    return builder.sign(issuer_key, HASHES[hash_name]())


def _key_usage(profile: Profile, public_key: CertificatePublicKeyTypes) -> x509.KeyUsage:
    if profile.is_ca:
        return x509.KeyUsage(True, False, False, False, False, True, True, False, False)
    encipher = isinstance(public_key, rsa.RSAPublicKey) or profile.client
    agreement = isinstance(public_key, ec.EllipticCurvePublicKey) and profile.server
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=encipher,
        data_encipherment=False, key_agreement=agreement, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )

"""Build test certificates quickly: one CA, leaves with chosen names, keys and validity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

_EC_KEY = ec.generate_private_key(ec.SECP256R1())


def name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def make_ca(cn: str = "Test Root CA", issuer: Issued | None = None, key=None) -> Issued:
    key = key or ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(name(cn, "Test Org"))
               .issuer_name(issuer.cert.subject if issuer else name(cn, "Test Org"))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   (issuer.key if issuer else key).public_key()), False))
    return Issued(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)


def make_leaf(ca: Issued, cn: str, sans: list[str] | None = None, *, days: int = 90, start_days_ago: int = 1,
              key=None, serial: int | None = None) -> Issued:
    key = key or ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    names = sans if sans is not None else [cn]
    builder = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca.cert.subject)
               .public_key(key.public_key()).serial_number(serial or x509.random_serial_number())
               .not_valid_before(now - timedelta(days=start_days_ago))
               .not_valid_after(now - timedelta(days=start_days_ago) + timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), False))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def shared_key() -> ec.EllipticCurvePrivateKey:
    """One key for many leaves: signing is the slow part, not key generation."""
    return _EC_KEY

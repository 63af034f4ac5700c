"""Certificates for the outbound client's tests, made here with `cryptography`: a CA, the
server's certificate (localhost, 127.0.0.1) and client certificates with any validity."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certvault.crypto import keys

Key = ec.EllipticCurvePrivateKey


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def key_pem(key: Key) -> bytes:
    return keys.to_pem(key)


@dataclass
class Issued:
    key: Key
    cert: x509.Certificate


@dataclass
class Pki:
    ca: Issued
    server: Issued

    def issue(self, cn: str, *, client: bool = True, start: timedelta = timedelta(minutes=-5),
              end: timedelta = timedelta(days=1), sans: tuple[str, ...] = ()) -> Issued:
        now = datetime.now(UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self.ca.cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now + start).not_valid_after(now + end)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if sans:
            names = [x509.IPAddress(ipaddress.ip_address(s)) if s[0].isdigit() else x509.DNSName(s) for s in sans]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return Issued(key, builder.sign(self.ca.key, hashes.SHA256()))


def self_signed_ca(cn: str) -> Issued:
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return Issued(key, cert)


def make_pki(cn: str = "outbound test CA") -> Pki:
    ca = self_signed_ca(cn)
    partial = Pki(ca, ca)
    return Pki(ca, partial.issue("localhost", client=False, sans=("localhost", "127.0.0.1")))

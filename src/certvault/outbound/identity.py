"""The client certificate an account shows for mutual TLS, and how it gets into an SSLContext.

Read from a PKCS#12 or JKS keystore (bytes and password) or from PEM (what the internal CA
issues: certificate, chain, key). `ssl.SSLContext.load_cert_chain` only reads files, so the PEM
goes into an anonymous memory file (`memfd_create`), is loaded through /proc/self/fd and the
file is closed at once: the private key never touches a disk in the clear.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding

from certvault.crypto import keys
from certvault.errors import InvalidInput
from certvault.outbound.errors import ClientCertificateExpired, ClientIdentityError
from certvault.outbound.trust import fingerprint, short


@dataclass(frozen=True, repr=False)
class ClientIdentity:
    key: PrivateKeyTypes
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()  # issuers above `certificate`, nearest first
    label: str = "client certificate"

    def __post_init__(self) -> None:
        if not keys.public_matches(self.key, self.certificate.public_key()):
            raise ClientIdentityError(f"{self.label}: the private key does not match the certificate {self.subject}")

    @classmethod
    def from_keystore(cls, data: bytes, password: str, label: str = "client keystore") -> ClientIdentity:
        """A PKCS#12 (.p12/.pfx) or JKS/JCEKS keystore holding one private key and its chain."""
        return cls._from_file(data, password, label)

    @classmethod
    def from_pem(cls, certificates: bytes, key: bytes, password: str | None = None,
                 label: str = "client certificate") -> ClientIdentity:
        """PEM certificate plus chain (any order) and PEM private key, encrypted when `password` is given."""
        return cls._from_file(certificates + b"\n" + key, password, label)

    @classmethod
    def _from_file(cls, data: bytes, password: str | None, label: str) -> ClientIdentity:
        from certvault.crypto.readers import read_bundle  # pulls in pyjks: only when a keystore is read

        try:
            bundle = read_bundle(data, label, password)
        except InvalidInput as exc:
            raise ClientIdentityError(exc.message) from None
        if len(bundle.keys) != 1:
            raise ClientIdentityError(_key_count(label, len(bundle.keys), len(bundle.certificates)))
        key = bundle.keys[0]
        leaf = next((c for c in bundle.certificates if keys.public_matches(key, c.public_key())), None)
        if leaf is None:
            raise ClientIdentityError(f"{label}: the private key matches none of its "
                                      f"{len(bundle.certificates)} certificate(s)")
        return cls(key, leaf, issuers(leaf, bundle.certificates), label)

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate.public_bytes(Encoding.DER))

    def __repr__(self) -> str:  # never the key
        return f"ClientIdentity({self.subject!r}, {short(self.fingerprint)})"

    def check_validity(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        cert = self.certificate
        if now > cert.not_valid_after_utc:
            raise ClientCertificateExpired(f"{self.label}: the client certificate {self.subject} expired on "
                                           f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
        if now < cert.not_valid_before_utc:
            raise ClientCertificateExpired(f"{self.label}: the client certificate {self.subject} is not valid "
                                           f"before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")

    def pem(self) -> bytes:
        """Certificate, chain and unencrypted key: only ever written to a memory file."""
        certs = b"".join(c.public_bytes(Encoding.PEM) for c in (self.certificate, *self.chain))
        return certs + keys.to_pem(self.key)

    def load_into(self, context: ssl.SSLContext) -> None:
        self.check_validity()
        fd = os.memfd_create("certvault-client-identity", os.MFD_CLOEXEC)
        try:
            _write_all(fd, self.pem())
            context.load_cert_chain(f"/proc/self/fd/{fd}")
        except ssl.SSLError as exc:
            raise ClientIdentityError(f"{self.label}: TLS refused the client certificate ({exc.reason})") from None
        finally:
            os.close(fd)


def issuers(leaf: x509.Certificate, pool: list[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    """The chain above `leaf` found in `pool`, nearest first, without the self-signed root."""
    chain: list[x509.Certificate] = []
    current = leaf
    while current.issuer != current.subject:
        parent = next((c for c in pool if c.subject == current.issuer and c not in chain), None)
        if parent is None or parent.issuer == parent.subject:
            break
        chain.append(parent)
        current = parent
    return tuple(chain)


def _key_count(label: str, count: int, certificates: int) -> str:
    if count == 0:
        return f"{label}: holds no private key (only {certificates} certificate(s)); export it with its key"
    return f"{label}: holds {count} private keys; keep only the client's"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]

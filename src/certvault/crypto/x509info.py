"""Describe an X.509 certificate: the fields the inventory stores, shows and searches."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtensionOID, NameOID

from certvault.crypto import keys

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor


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

    @cached_property
    def names(self) -> list[str]:
        """The certificate's names (CN and SANs), lowercased, sorted, without duplicates."""
        return entry_names(self.common_name, self.sans)

    @cached_property
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


def _san_values(ext: x509.SubjectAlternativeName) -> list[str]:
    out: list[str] = [str(v) for v in ext.get_values_for_type(x509.DNSName)]
    out += [str(v) for v in ext.get_values_for_type(x509.IPAddress)]
    out += [f"email:{v}" for v in ext.get_values_for_type(x509.RFC822Name)]
    out += [f"uri:{v}" for v in ext.get_values_for_type(x509.UniformResourceIdentifier)]
    return out


@dataclass
class _Extensions:
    sans: list[str] = field(default_factory=list)
    is_ca: bool = False
    ski: str | None = None
    aki: str | None = None


def _extensions(cert: x509.Certificate) -> _Extensions:
    """The extensions the inventory reads, in one pass (a malformed one is treated as absent)."""
    found = _Extensions()
    try:
        extensions = list(cert.extensions)
    except ValueError:
        return found
    for ext in extensions:
        value = ext.value
        if isinstance(value, x509.SubjectAlternativeName):
            found.sans = _san_values(value)
        elif isinstance(value, x509.BasicConstraints):
            found.is_ca = bool(value.ca)
        elif isinstance(value, x509.SubjectKeyIdentifier):
            found.ski = value.digest.hex()
        elif ext.oid == ExtensionOID.AUTHORITY_KEY_IDENTIFIER:
            ident = getattr(value, "key_identifier", None)
            found.aki = ident.hex() if ident else None
    return found


def _signature_name(cert: x509.Certificate) -> str:
    try:
        algo = cert.signature_algorithm_oid._name  # noqa: SLF001 - the readable OID name
    except Exception:
        algo = cert.signature_algorithm_oid.dotted_string
    return str(algo)


def describe(cert: x509.Certificate) -> CertInfo:
    public_key = cert.public_key()
    algorithm, size = keys.describe(public_key)
    ext = _extensions(cert)
    subject, issuer = cert.subject, cert.issuer
    self_signed = issuer == subject and (ext.aki is None or ext.aki == ext.ski)
    return CertInfo(
        fingerprint_sha256=fingerprint(cert),
        spki_sha256=spki_sha256(public_key),
        subject=subject.rfc4514_string(),
        common_name=_first(subject, NameOID.COMMON_NAME),
        issuer=issuer.rfc4514_string(),
        issuer_cn=_first(issuer, NameOID.COMMON_NAME) or issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_algorithm=algorithm,
        key_size=size,
        signature_algorithm=_signature_name(cert),
        sans=ext.sans,
        is_ca=ext.is_ca,
        self_signed=self_signed,
        ski=ext.ski,
        aki=ext.aki,
    )


# ---- bulk: describe many certificates in worker processes while the caller stores earlier chunks ----
PARALLEL_MIN = 4000  # below this, starting worker processes costs more than it saves
CHUNK = 1000
_pool: ProcessPoolExecutor | None = None


def _worker_pool() -> ProcessPoolExecutor | None:
    """Forked workers, created once, and only while this process has a single thread (a forked copy
    of another thread's lock can deadlock; spawn would re-run an unguarded calling script)."""
    global _pool
    if _pool is None and threading.active_count() == 1 and (os.cpu_count() or 1) > 1:
        import multiprocessing  # here: a process that never parses in bulk does not load it
        from concurrent.futures import ProcessPoolExecutor

        _pool = ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork"))
    return _pool


def _describe_ders(ders: list[bytes]) -> list[CertInfo]:
    infos = [describe(x509.load_der_x509_certificate(d)) for d in ders]
    for info in infos:
        _ = info.names_key  # computed here, so it travels back with the result
    return infos


def describe_chunks(certs: list[x509.Certificate]) -> Iterator[tuple[list[x509.Certificate], list[CertInfo]]]:
    """(certificates, their descriptions) in chunks, in order. Large inputs are described by worker
    processes, so the caller can store one chunk while the next is being parsed."""
    chunks = [certs[i:i + CHUNK] for i in range(0, len(certs), CHUNK)]
    pool = _worker_pool() if len(certs) >= PARALLEL_MIN else None
    if pool is None:
        for chunk in chunks:
            yield chunk, [describe(c) for c in chunk]
        return
    results = pool.map(_describe_ders, [[der(c) for c in chunk] for chunk in chunks])
    yield from zip(chunks, results, strict=True)

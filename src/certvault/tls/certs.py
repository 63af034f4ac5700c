"""Certificate health of a served chain: each flag computed on its own (the verifier reports only one error)."""

from __future__ import annotations

import hashlib
import ipaddress
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

WEAK_HASHES = {"md5", "sha1", "md2", "md4"}
MIN_RSA_BITS = 2048
MIN_EC_BITS = 224


@dataclass(frozen=True)
class TrustAnchors:
    store: Store | None
    roots: tuple[x509.Certificate, ...]


@cache
def load_anchors(ca_file: str | None) -> TrustAnchors:
    """System store (or the extra CA file too); cached because parsing ~150 roots costs milliseconds."""
    roots: list[x509.Certificate] = []
    for path in _system_bundles():
        roots.extend(_load_pem_file(path))
        break
    if ca_file:
        roots.extend(_load_pem_file(ca_file))
    return TrustAnchors(Store(roots) if roots else None, tuple(roots))


def _system_bundles() -> list[str]:
    import os
    import ssl

    paths = ssl.get_default_verify_paths()
    candidates = [paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"]
    return [p for p in candidates if p and os.path.exists(p)]


def _load_pem_file(path: str) -> list[x509.Certificate]:
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        with warnings.catch_warnings():  # a few distro roots carry non-positive serials; still anchors
            warnings.simplefilter("ignore")
            return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ValueError(f"{path}: no PEM certificates ({exc})") from exc


def key_description(cert: x509.Certificate) -> tuple[str, int]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    return type(key).__name__, 0


def is_weak_key(key_type: str, size: int) -> bool:
    if key_type in ("RSA", "DSA"):
        return size < MIN_RSA_BITS
    if key_type == "EC":
        return size < MIN_EC_BITS
    return False


def signature_hash(cert: x509.Certificate) -> str:
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:  # noqa: BLE001 - unsupported algorithms (GOST...) still get a name
        return "unknown"
    return algorithm.name if algorithm is not None else "intrinsic"


def signature_name(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    return getattr(oid, "_name", None) or oid.dotted_string


def sans_of(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names: list[str] = list(ext.get_values_for_type(x509.DNSName))
    names += [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    return names


def hostname_matches(cert: x509.Certificate, name: str) -> bool:
    """RFC 6125: SAN dNSName/iPAddress only; a single left-most wildcard label."""
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        ip = None
    sans = sans_of(cert)
    if ip is not None:
        return str(ip) in sans
    host = name.rstrip(".").lower()
    for pattern in (s.lower() for s in sans):
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host:
            label, rest = host.split(".", 1)
            if label and rest == pattern[2:]:
                return True
    return False


def _is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    return _signed_by(cert, cert)


def _verifies(anchors: TrustAnchors, leaf: x509.Certificate, intermediates: list[x509.Certificate],
              at: datetime) -> tuple[bool, str | None]:
    """Chain to a trust anchor ignoring time and name (those are their own flags)."""
    if anchors.store is None:
        return False, "no trust anchors available"
    moment = min(max(at, leaf.not_valid_before_utc), leaf.not_valid_after_utc)
    own_name = _own_subject(leaf)
    legacy_chain = any(signature_hash(c) in WEAK_HASHES or is_weak_key(*key_description(c))
                       for c in [leaf, *intermediates])
    if own_name is None or moment != at or legacy_chain:
        # expired, SHA-1 or short-key chains: cryptography's policy refuses them outright, but trust is its own flag
        return _verifies_legacy(anchors, leaf, intermediates)
    verifier = PolicyBuilder().store(anchors.store).time(moment).build_server_verifier(own_name)
    try:
        verifier.verify(leaf, intermediates)
        return True, None
    except VerificationError as exc:
        return False, str(exc)


def _own_subject(leaf: x509.Certificate) -> x509.DNSName | x509.IPAddress | None:
    """A name the leaf itself carries, so the server verifier checks only the chain (mismatch is its own flag)."""
    for name in sans_of(leaf):
        try:
            return x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            return x509.DNSName(name.replace("*.", "wildcard.", 1))
    return None


def _verifies_legacy(anchors: TrustAnchors, leaf: x509.Certificate,
                     intermediates: list[x509.Certificate]) -> tuple[bool, str | None]:
    """cryptography refuses SHA-1 chains outright; walk issuer signatures by hand so trust stays its own flag."""
    current, pool = leaf, intermediates + list(anchors.roots)
    for _ in range(8):
        if any(current == root for root in anchors.roots):
            return True, None
        issuer = next((c for c in pool if c.subject == current.issuer and _signed_by(current, c)), None)
        if issuer is None:
            return False, "no path to a trust anchor"
        current = issuer
    return False, "chain too long"


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Signature check by hand: verify_directly_issued_by refuses SHA-1, and SHA-1 chains still need a verdict."""
    key = issuer.public_key()
    try:
        algorithm = cert.signature_hash_algorithm
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        else:
            cert.verify_directly_issued_by(issuer)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not signed by this issuer"
        return False


def analyse_chain(chain_der: list[bytes], hostname: str | None, anchors: TrustAnchors, now: datetime,
                  expiry_warning_days: int) -> tuple[dict[str, Any], list[x509.Certificate]]:
    """The result-contract `certificate` object (revocation left for the caller) and the parsed chain."""
    chain = [x509.load_der_x509_certificate(der) for der in chain_der]
    leaf = chain[0]
    key_type, key_size = key_description(leaf)
    not_after, not_before = leaf.not_valid_after_utc, leaf.not_valid_before_utc
    days_left = int((not_after - now).total_seconds() // 86400)
    trusted, trust_error = _verifies(anchors, leaf, chain[1:], now)
    weak_sig = any(signature_hash(c) in WEAK_HASHES for c in chain if not _is_self_signed(c) or c is leaf)
    weak_key = any(is_weak_key(*key_description(c)) for c in chain if not _is_self_signed(c) or c is leaf)
    info: dict[str, Any] = {
        "subject": leaf.subject.rfc4514_string(),
        "common_name": _common_name(leaf),
        "issuer": leaf.issuer.rfc4514_string(),
        "sans": sans_of(leaf),
        "serial": format(leaf.serial_number, "X"),
        "not_before": not_before.isoformat(),
        "not_after": not_after.isoformat(),
        "days_left": days_left,
        "signature_algorithm": signature_name(leaf),
        "key_type": key_type,
        "key_size": key_size,
        "fingerprint_sha256": hashlib.sha256(chain_der[0]).hexdigest(),
        "expired": now > not_after,
        "not_yet_valid": now < not_before,
        "expiring_soon": now <= not_after and days_left < expiry_warning_days,
        "self_signed": _is_self_signed(leaf),
        "untrusted": not trusted,
        "trust_error": trust_error,
        "hostname_mismatch": bool(hostname) and not hostname_matches(leaf, hostname or ""),
        "weak_signature": weak_sig,
        "weak_key": weak_key,
        "chain_length": len(chain),
        "revocation": "unknown",
        "revocation_source": None,
    }
    return info, chain


def _common_name(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def chain_to_pem(chain_der: list[bytes]) -> list[str]:
    return [x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode() for der in chain_der]


def utcnow() -> datetime:
    return datetime.now(UTC)

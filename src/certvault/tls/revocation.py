"""Revocation status of a leaf: OCSP staple first, then online OCSP, then the CRL (cached per issuer).

Every response is verified against the issuer before it is believed; an unverifiable answer is "unknown".
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from certvault.tls.certs import TrustAnchors

GOOD, REVOKED, UNKNOWN = "good", "revoked", "unknown"
MAX_CRL_BYTES = 20 * 1024 * 1024
CACHE_FALLBACK_SECONDS = 3600


def _verify_signature(signer: x509.Certificate, signature: bytes, data: bytes,
                      algorithm: hashes.HashAlgorithm | None) -> bool:
    key = signer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        else:
            return False
        return True
    except Exception:  # noqa: BLE001 - any failure means "not signed by this key"
        return False


def find_issuer(leaf: x509.Certificate, chain: list[x509.Certificate],
                anchors: TrustAnchors) -> x509.Certificate | None:
    candidates = [c for c in list(chain[1:]) + list(anchors.roots) if c.subject == leaf.issuer]
    return next((c for c in candidates if _issued(leaf, c)), None)


def _issued(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:  # noqa: BLE001 - wrong key or algorithm: not this issuer
        return False


def ocsp_status(der: bytes, leaf: x509.Certificate, issuer: x509.Certificate, now: datetime) -> str | None:
    """GOOD/REVOKED from a verified OCSP response about this leaf; None when it cannot be trusted."""
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError:
        return None
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return None
    signer = issuer
    if not _signed_by_issuer_key(response, issuer):
        delegated = next((c for c in response.certificates if _is_delegated_responder(c, issuer)), None)
        if delegated is None or not _verify_signature(delegated, response.signature, response.tbs_response_bytes,
                                                      response.signature_hash_algorithm):
            return None
        signer = delegated
    del signer
    for single in response.responses:
        if single.serial_number != leaf.serial_number:
            continue
        if single.next_update_utc is not None and single.next_update_utc < now:
            return None
        if single.certificate_status == ocsp.OCSPCertStatus.REVOKED:
            return REVOKED
        if single.certificate_status == ocsp.OCSPCertStatus.GOOD:
            return GOOD
    return None


def _signed_by_issuer_key(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> bool:
    return _verify_signature(issuer, response.signature, response.tbs_response_bytes,
                             response.signature_hash_algorithm)


def _is_delegated_responder(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except Exception:  # noqa: BLE001
        return False
    return x509.ExtendedKeyUsageOID.OCSP_SIGNING in usage


def _urls(leaf: x509.Certificate) -> tuple[list[str], list[str]]:
    ocsp_urls: list[str] = []
    crl_urls: list[str] = []
    try:
        aia = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        ocsp_urls = [d.access_location.value for d in aia if d.access_method == AuthorityInformationAccessOID.OCSP
                     and isinstance(d.access_location, x509.UniformResourceIdentifier)]
    except x509.ExtensionNotFound:
        pass
    try:
        dps = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        for point in dps:
            crl_urls += [n.value for n in point.full_name or [] if isinstance(n, x509.UniformResourceIdentifier)]
    except x509.ExtensionNotFound:
        pass
    keep = ("http://", "https://")
    return [u for u in ocsp_urls if u.startswith(keep)], [u for u in crl_urls if u.startswith(keep)]


@dataclass
class _Cached:
    value: object
    expires: float


class RevocationChecker:
    """Process-wide caches: OCSP answers per (issuer, serial), CRLs per (issuer, URL), until nextUpdate."""

    _shared: RevocationChecker | None = None

    def __init__(self) -> None:
        self._ocsp: dict[tuple[bytes, int], _Cached] = {}
        self._crl: dict[tuple[bytes, str], _Cached] = {}
        self._crl_locks: dict[tuple[int, bytes, str], asyncio.Lock] = {}

    @classmethod
    def shared(cls) -> RevocationChecker:
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    async def check(self, chain: list[x509.Certificate], anchors: TrustAnchors, staple: bytes | None,
                    timeout: float) -> tuple[str, str | None, str | None]:
        """(status, source, detail): source is staple|ocsp|crl, or None when nothing could be trusted."""
        leaf = chain[0]
        now = datetime.now(UTC)
        issuer = find_issuer(leaf, chain, anchors)
        if issuer is None:
            return UNKNOWN, None, "issuer not found: cannot verify revocation data"
        if staple:
            status = ocsp_status(staple, leaf, issuer, now)
            if status is not None:
                return status, "staple", None
        ocsp_urls, crl_urls = _urls(leaf)
        if not ocsp_urls and not crl_urls:
            return UNKNOWN, None, None if staple else "no OCSP or CRL location in the certificate"
        problems: list[str] = []
        # plain-HTTP fetches only (OCSP/CRL are signed objects): no TLS context to build per check
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, verify=False,  # noqa: S501
                                     trust_env=False) as client:
            for url in ocsp_urls[:2]:
                status = await self._online_ocsp(client, url, leaf, issuer, now, problems)
                if status is not None:
                    return status, "ocsp", None
            for url in crl_urls[:2]:
                status = await self._crl_status(client, url, leaf, issuer, problems)
                if status is not None:
                    return status, "crl", None
        detail = "; ".join(problems) or ("no OCSP or CRL location in the certificate" if not staple else None)
        return UNKNOWN, None, detail

    async def _online_ocsp(self, client: httpx.AsyncClient, url: str, leaf: x509.Certificate,
                           issuer: x509.Certificate, now: datetime, problems: list[str]) -> str | None:
        key = (issuer.fingerprint(hashes.SHA256()), leaf.serial_number)
        cached = self._ocsp.get(key)
        if cached is not None and cached.expires > time.time():
            return cached.value  # type: ignore[return-value]
        request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()  # noqa: S303
        try:
            reply = await client.post(url, content=request.public_bytes(serialization.Encoding.DER),
                                      headers={"Content-Type": "application/ocsp-request"})
        except httpx.HTTPError as exc:
            problems.append(f"OCSP {url}: {exc.__class__.__name__}")
            return None
        if reply.status_code != 200:
            problems.append(f"OCSP {url}: HTTP {reply.status_code}")
            return None
        status = ocsp_status(reply.content, leaf, issuer, now)
        if status is None:
            problems.append(f"OCSP {url}: unverifiable response")
            return None
        self._ocsp[key] = _Cached(status, time.time() + 300)
        return status

    async def _crl_status(self, client: httpx.AsyncClient, url: str, leaf: x509.Certificate,
                          issuer: x509.Certificate, problems: list[str]) -> str | None:
        key = (issuer.fingerprint(hashes.SHA256()), url)
        lock = self._crl_locks.setdefault((id(asyncio.get_running_loop()), *key), asyncio.Lock())
        async with lock:  # one download per issuer even when many endpoints ask at once
            cached = self._crl.get(key)
            if cached is None or cached.expires <= time.time():
                crl = await self._download_crl(client, url, issuer, problems)
                if crl is None:
                    return None
                expires = crl.next_update_utc.timestamp() if crl.next_update_utc else time.time()
                cached = _Cached(crl, min(expires, time.time() + CACHE_FALLBACK_SECONDS))
                self._crl[key] = cached
        stored = cached.value
        assert isinstance(stored, x509.CertificateRevocationList)
        return REVOKED if stored.get_revoked_certificate_by_serial_number(leaf.serial_number) else GOOD

    async def _download_crl(self, client: httpx.AsyncClient, url: str, issuer: x509.Certificate,
                            problems: list[str]) -> x509.CertificateRevocationList | None:
        try:
            reply = await client.get(url)
        except httpx.HTTPError as exc:
            problems.append(f"CRL {url}: {exc.__class__.__name__}")
            return None
        if reply.status_code != 200 or len(reply.content) > MAX_CRL_BYTES:
            problems.append(f"CRL {url}: HTTP {reply.status_code}")
            return None
        try:
            crl = x509.load_der_x509_crl(reply.content)
        except ValueError:
            try:
                crl = x509.load_pem_x509_crl(reply.content)
            except ValueError:
                problems.append(f"CRL {url}: not a CRL")
                return None
        if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
            problems.append(f"CRL {url}: signature does not verify against the issuer")
            return None
        return crl

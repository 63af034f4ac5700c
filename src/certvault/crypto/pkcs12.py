"""PKCS#12: export with modern, Java- and OpenSSL-compatible encryption; reading, with its work capped.

What OpenSSL, Java, Windows and NSS write is read: PBES2 (PBKDF2 or scrypt; AES or 3DES), the PKCS#12
PBEs (3DES, RC2, RC4), HMAC MACs with any SHA or PBMAC1, BER or DER. Friendly names and key ids are not
needed: keys are matched to certificates by their public keys later.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import PrivateFormat, pkcs12

from certvault.crypto import der, pbe
from certvault.errors import InvalidInput

DATA, ENCRYPTED_DATA = "1.2.840.113549.1.7.1", "1.2.840.113549.1.7.6"
KEY_BAG, SHROUDED_KEY_BAG, CERT_BAG, SAFE_CONTENTS_BAG = (f"1.2.840.113549.1.12.10.1.{n}" for n in (1, 2, 3, 6))
X509_CERTIFICATE = "1.2.840.113549.1.9.22.1"


def export(
    name: str,
    key: PrivateKeyTypes | None,
    cert: x509.Certificate,
    chain: list[x509.Certificate],
    password: str,
) -> bytes:
    if not password:
        raise InvalidInput("a PKCS#12 export needs a password")
    encryption = (
        PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(50_000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(password.encode())
    )
    return pkcs12.serialize_key_and_certificates(
        name.encode(), key, cert, chain or None, encryption  # type: ignore[arg-type]
    )


class WrongPassword(ValueError):
    """The MAC or an encrypted part does not open with the password (or the file is corrupt)."""


@dataclass
class Contents:
    certificates: list[x509.Certificate] = field(default_factory=list)
    keys: list[PrivateKeyTypes] = field(default_factory=list)


def read(data: bytes, password: str, budget: pbe.Budget) -> Contents:
    """Read a PKCS#12 file here rather than in cryptography, whose loader holds the GIL (and so stalls the
    event loop) for all of a file's key derivations: each derivation is charged to `budget` before it runs,
    the ones inside encrypted parts included. Raises DerError for a malformed file, WrongPassword."""
    pfx = der.parse(data)
    auth_safe = pfx.child(1, der.SEQUENCE)
    if auth_safe.child(0).oid() != DATA:
        raise der.DerError("the content is not of type data")
    signed = auth_safe.child(1).child(0).octets()
    secret = _check_mac(pfx.child(2, der.SEQUENCE), signed, password, budget) if len(pfx.children) > 2 else None
    contents = Contents()
    for info in der.parse(signed).children:
        kind = info.child(0).oid()
        if kind == DATA:
            _bags(der.parse(info.child(1).child(0).octets()), password, secret, budget, contents)
        elif kind == ENCRYPTED_DATA:
            opened = _decrypted(info.child(1).child(0).child(1), password, secret, budget)
            _bags(opened, password, secret, budget, contents)
    return contents


def _check_mac(mac_data: der.Node, signed: bytes, password: str, budget: pbe.Budget) -> bytes | None:
    """Verify the MAC; returns the BMPString form of the password that opened it (for PKCS#12 PBE)."""
    digest_info, salt = mac_data.child(0), mac_data.child(1, der.OCTET_STRING).octets()
    algorithm, expected = digest_info.child(0), digest_info.child(1, der.OCTET_STRING).octets()
    if algorithm.child(0).oid() == pbe.PBMAC1:
        budget.algorithm(algorithm, "PKCS#12 MAC")
        if not hmac.compare_digest(pbe.pbmac1(algorithm, password.encode(), signed), expected):
            raise WrongPassword("the password does not open the keystore")
        return None
    hash_name = pbe.DIGESTS.get(algorithm.child(0).oid())
    if hash_name is None:
        raise der.DerError(f"unsupported MAC digest {algorithm.child(0).oid()}")
    iterations = mac_data.child(2).integer() if len(mac_data.children) > 2 else 1
    for secret in pbe.bmp_candidates(password):
        budget.spend("PKCS#12 MAC iteration count", iterations)
        key = pbe.pkcs12_kdf(hash_name, secret, salt, iterations, 3, hashlib.new(hash_name).digest_size)
        if hmac.compare_digest(hmac.new(key, signed, hash_name).digest(), expected):
            return secret
    raise WrongPassword("the password does not open the keystore")


def _decrypted(content: der.Node, password: str, secret: bytes | None, budget: pbe.Budget) -> der.Node:
    """EncryptedContentInfo: charge its derivation, then open it."""
    algorithm = content.child(1, der.SEQUENCE)
    budget.algorithm(algorithm, "PKCS#12 encrypted content")
    if len(content.children) < 3:
        return der.Node(der.SEQUENCE)
    return der.parse(_open(algorithm, content.child(2).octets(), password, secret))


def _open(algorithm: der.Node, data: bytes, password: str, secret: bytes | None) -> bytes:
    try:
        return pbe.decrypt(algorithm, data, password, secret)
    except der.DerError:
        raise
    except ValueError:
        raise WrongPassword("the password does not open the keystore") from None


def _bags(contents: der.Node, password: str, secret: bytes | None, budget: pbe.Budget, found: Contents) -> None:
    for bag in contents.children:
        kind, value = bag.child(0).oid(), bag.child(1).child(0)
        if kind == CERT_BAG and value.child(0).oid() == X509_CERTIFICATE:
            found.certificates.append(x509.load_der_x509_certificate(value.child(1).child(0).octets()))
        elif kind == KEY_BAG:
            found.keys.append(serialization.load_der_private_key(value.encoded(), password=None))
        elif kind == SHROUDED_KEY_BAG:
            algorithm = value.child(0, der.SEQUENCE)
            budget.algorithm(algorithm, "PKCS#12 key")
            plain = _open(algorithm, value.child(1, der.OCTET_STRING).octets(), password, secret)
            found.keys.append(serialization.load_der_private_key(plain, password=None))
        elif kind == SAFE_CONTENTS_BAG:
            _bags(value, password, secret, budget, found)

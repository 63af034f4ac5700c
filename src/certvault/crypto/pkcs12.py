"""PKCS#12: export with modern, Java- and OpenSSL-compatible encryption; the work an imported file asks for."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import PrivateFormat, pkcs12

from certvault.crypto import der, pbe
from certvault.errors import InvalidInput

DATA, ENCRYPTED_DATA = "1.2.840.113549.1.7.1", "1.2.840.113549.1.7.6"
SHROUDED_KEY_BAG, SAFE_CONTENTS_BAG = "1.2.840.113549.1.12.10.1.2", "1.2.840.113549.1.12.10.1.6"


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
    """An encrypted part of the file does not open with the password (or is corrupt)."""


def check_work(data: bytes, password: str, budget: pbe.Budget) -> None:
    """Charge `budget` with every key derivation a library would run to read `data`, before it runs any:
    the MAC, each encrypted part, and each shrouded key, those inside encrypted parts included (which
    are decrypted here to be seen). Raises DerError for a malformed file, WrongPassword."""
    pfx = der.parse(data)
    if len(pfx.children) > 2:
        _mac(pfx.child(2, der.SEQUENCE), budget)
    auth_safe = pfx.child(1, der.SEQUENCE)
    if auth_safe.child(0).oid() != DATA:
        raise der.DerError("the content is not of type data")
    for info in der.parse(auth_safe.child(1).child(0).octets()).children:
        kind = info.child(0).oid()
        if kind == DATA:
            _bags(der.parse(info.child(1).child(0).octets()), budget)
        elif kind == ENCRYPTED_DATA:
            _bags(_decrypted(info.child(1).child(0).child(1), password, budget), budget)


def _mac(mac_data: der.Node, budget: pbe.Budget) -> None:
    algorithm = mac_data.child(0).child(0)
    if algorithm.child(0).oid() == pbe.PBMAC1:
        budget.algorithm(algorithm, "PKCS#12 MAC")
    iterations = mac_data.child(2).integer() if len(mac_data.children) > 2 else 1
    budget.spend("PKCS#12 MAC iteration count", iterations)


def _decrypted(content: der.Node, password: str, budget: pbe.Budget) -> der.Node:
    """EncryptedContentInfo: charge its derivation, then open it."""
    algorithm = content.child(1, der.SEQUENCE)
    budget.algorithm(algorithm, "PKCS#12 encrypted content")
    if len(content.children) < 3:
        return der.Node(der.SEQUENCE)
    try:
        plain = pbe.decrypt(algorithm, content.child(2).octets(), password)
    except der.DerError:
        raise
    except ValueError:
        raise WrongPassword("the password does not open the keystore") from None
    try:
        return der.parse(plain)
    except der.DerError:
        raise WrongPassword("the password does not open the keystore") from None


def _bags(contents: der.Node, budget: pbe.Budget) -> None:
    for bag in contents.children:
        kind, value = bag.child(0).oid(), bag.child(1).child(0)
        if kind == SHROUDED_KEY_BAG:
            budget.algorithm(value.child(0, der.SEQUENCE), "PKCS#12 key")
        elif kind == SAFE_CONTENTS_BAG:
            _bags(value, budget)

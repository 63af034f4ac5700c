"""Read certificates and private keys from any common file format.

PEM (bundles of certificates, keys and PKCS#7 blocks), DER, PKCS#7 (DER), PKCS#12 and JKS/JCEKS
are recognised by their content, not their file name. Every failure is an InvalidInput whose
message starts with the file's label and says what is wrong. The key-derivation work a file asks for
(PKCS#12 MACs and bags, encrypted keys, JCEKS keys) is read and capped before it is done (crypto/pbe.py).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs7

from certvault.crypto import der, jks_codec, pbe
from certvault.crypto import pkcs12 as pkcs12_work
from certvault.errors import InvalidInput, TooLarge

MAX_BYTES = 10 * 1024 * 1024
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)
_CERT_LABELS = {b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE"}
_KEY_LABELS = {b"PRIVATE KEY", b"ENCRYPTED PRIVATE KEY", b"RSA PRIVATE KEY", b"EC PRIVATE KEY"}
_PKCS7_LABELS = {b"PKCS7", b"CMS"}
_OID_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")
_OID_DATA = bytes.fromhex("06092a864886f70d010701")


@dataclass
class Bundle:
    """What one file held: certificates in file order and private keys."""

    format: str
    certificates: list[x509.Certificate] = field(default_factory=list)
    keys: list[PrivateKeyTypes] = field(default_factory=list)


def read_bundle(data: bytes, label: str, password: str | None = None) -> Bundle:
    """Parse `data` (the contents of the file called `label`)."""
    if len(data) > MAX_BYTES:
        raise TooLarge(f"{label}: file is {len(data) / 1048576:.1f} MB; the limit is 10 MB")
    if not data.strip():
        raise InvalidInput(f"{label}: file is empty")
    secret = password.encode() if password else None
    budget = pbe.Budget(label)
    if data[:4] in jks_codec.MAGICS:
        bundle = _guarded(label, "JKS keystore", lambda: _read_jks(data, label, password, budget))
    elif b"-----BEGIN " in data:
        bundle = _read_pem(data, label, secret, budget)
    else:
        bundle = _read_der(data, label, secret, budget)
    if not bundle.certificates and not bundle.keys:
        raise InvalidInput(f"{label}: contains no certificate")
    return bundle


def _guarded(label: str, what: str, parse: object) -> Bundle:
    """Run a parser whose library may raise anything on hostile bytes; keep our own errors."""
    try:
        return parse()  # type: ignore[operator,no-any-return]
    except (InvalidInput, TooLarge):
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure is the file's problem
        raise InvalidInput(f"{label}: not a readable {what} ({_short(exc)})") from None


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]


def _read_jks(data: bytes, label: str, password: str | None, budget: pbe.Budget) -> Bundle:
    if not password:
        raise InvalidInput(f"{label}: is a JKS keystore; give its password (--password)")
    store = jks_codec.load(data, password, label, budget)
    return Bundle("jks", store.certificates, store.keys)


def _read_pem(data: bytes, label: str, password: bytes | None, budget: pbe.Budget) -> Bundle:
    bundle = Bundle("pem")
    blocks = list(_PEM_BLOCK.finditer(data))
    if not blocks:
        raise InvalidInput(f"{label}: has a PEM header but no complete PEM block")
    # All of the file's key derivations are charged before the first runs.
    encrypted = {index: _charge_pkcs8(match.group(2), label, budget) for index, match in enumerate(blocks, 1)
                 if match.group(1) == b"ENCRYPTED PRIVATE KEY"}
    saw_request = False
    for index, match in enumerate(blocks, 1):
        kind, text = match.group(1), match.group(0)
        if kind in _CERT_LABELS:
            bundle.certificates.append(_pem_certificate(text, label, index))
        elif index in encrypted and password:
            bundle.keys.append(_pkcs8_key(encrypted[index], text, label, password))
        elif kind in _KEY_LABELS:
            bundle.keys.append(_pem_key(text, label, password))
        elif kind in _PKCS7_LABELS:
            bundle.certificates.extend(_guarded_pkcs7(label, lambda t=text: pkcs7.load_pem_pkcs7_certificates(t)))
        elif kind in (b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST"):
            saw_request = True
    if not bundle.certificates and not bundle.keys:
        what = "a certificate request, not a certificate" if saw_request else "no certificate"
        raise InvalidInput(f"{label}: contains {what}")
    return bundle


def _pem_certificate(text: bytes, label: str, index: int) -> x509.Certificate:
    if text.startswith(b"-----BEGIN TRUSTED CERTIFICATE"):
        text = text.replace(b"TRUSTED CERTIFICATE", b"CERTIFICATE")
    try:
        return x509.load_pem_x509_certificate(text)
    except Exception as exc:  # noqa: BLE001
        raise InvalidInput(f"{label}: PEM certificate #{index} is corrupt ({_short(exc)})") from None


def _charge_pkcs8(body: bytes, label: str, budget: pbe.Budget) -> der.Node:
    """An encrypted PKCS#8 key (EncryptedPrivateKeyInfo): charge the derivation it names before it is read."""
    try:
        info = der.parse(base64.b64decode(body))
        budget.algorithm(info.child(0, der.SEQUENCE), "encrypted private key")
        return info
    except (binascii.Error, der.DerError) as exc:
        raise InvalidInput(f"{label}: the encrypted private key is corrupt ({_short(exc)})") from None


def _pkcs8_key(info: der.Node, text: bytes, label: str, password: bytes) -> PrivateKeyTypes:
    """Decrypted here, where the key derivation lets other threads run (cryptography's PEM loader holds the
    GIL while it derives: the event loop would stall); schemes `pbe` does not know go to the library."""
    try:
        plain = pbe.decrypt(info.child(0), info.child(1, der.OCTET_STRING).octets(), password.decode())
    except der.DerError:
        return _pem_key(text, label, password)
    except ValueError:
        raise InvalidInput(f"{label}: wrong password for the private key (or the key is corrupt)") from None
    try:
        return serialization.load_der_private_key(plain, password=None)
    except Exception:  # noqa: BLE001
        raise InvalidInput(f"{label}: wrong password for the private key (or the key is corrupt)") from None


def _pem_key(text: bytes, label: str, password: bytes | None) -> PrivateKeyTypes:
    encrypted = b"ENCRYPTED" in text[:40] or b"Proc-Type: 4,ENCRYPTED" in text
    if encrypted and not password:
        raise InvalidInput(f"{label}: the private key is encrypted; give its password (--password)")
    try:
        return serialization.load_pem_private_key(text, password=password if encrypted else None)
    except Exception as exc:  # noqa: BLE001
        if encrypted:
            raise InvalidInput(f"{label}: wrong password for the private key (or the key is corrupt)") from None
        raise InvalidInput(f"{label}: the private key is corrupt ({_short(exc)})") from None


def _guarded_pkcs7(label: str, load: object) -> list[x509.Certificate]:
    try:
        return list(load())  # type: ignore[operator]
    except Exception as exc:  # noqa: BLE001
        raise InvalidInput(f"{label}: not a readable PKCS#7 bundle ({_short(exc)})") from None


def _der_body(data: bytes) -> bytes:
    """The contents of the outer DER SEQUENCE (empty when the header is not one)."""
    if len(data) < 2 or data[0] != 0x30:
        return b""
    length = data[1]
    offset = 2
    if length & 0x80:
        offset += length & 0x7F
    return data[offset:]


def _read_der(data: bytes, label: str, password: bytes | None, budget: pbe.Budget) -> Bundle:
    body = _der_body(data)
    if not body:
        raise InvalidInput(f"{label}: not a certificate file (not PEM, DER, PKCS#7, PKCS#12 or JKS)")
    if body.startswith(_OID_SIGNED_DATA):
        return Bundle("pkcs7", _guarded_pkcs7(label, lambda: pkcs7.load_der_pkcs7_certificates(data)))
    if body.startswith(b"\x02\x01\x03") and _OID_DATA in body[:32]:
        return _read_pkcs12(data, label, password, budget)
    try:
        return Bundle("der", [x509.load_der_x509_certificate(data)])
    except Exception as exc:  # noqa: BLE001
        raise InvalidInput(f"{label}: not a readable certificate ({_short(exc)})") from None


def _read_pkcs12(data: bytes, label: str, password: bytes | None, budget: pbe.Budget) -> Bundle:
    try:
        contents = pkcs12_work.read(data, (password or b"").decode(), budget)
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001
        if password is None:
            raise InvalidInput(f"{label}: is a PKCS#12 keystore; give its password (--password)") from None
        if "password" in str(exc).lower():
            raise InvalidInput(f"{label}: wrong password for the PKCS#12 keystore (or it is corrupt)") from None
        raise InvalidInput(f"{label}: not a readable PKCS#12 keystore ({_short(exc)})") from None
    return Bundle("pkcs12", contents.certificates, contents.keys)

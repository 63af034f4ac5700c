"""Just enough DER to build hostile keystores in tests (independent of certvault.crypto.der)."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC


def tlv(tag: int, body: bytes) -> bytes:
    n, width = len(body), (len(body).bit_length() + 7) // 8
    size = bytes([n]) if n < 0x80 else bytes([0x80 | width]) + n.to_bytes(width, "big")
    return bytes([tag]) + size + body


def seq(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def integer(value: int) -> bytes:
    return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def octets(value: bytes) -> bytes:
    return tlv(0x04, value)


def explicit(number: int, inner: bytes) -> bytes:
    return tlv(0xA0 + number, inner)


def oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        body += bytes(reversed(chunk))
    return tlv(0x06, bytes(body))


def elements(der: bytes) -> list[bytes]:
    """The encoded elements inside a DER SEQUENCE (definite lengths only)."""
    first = der[1]
    pos = 2 + (first & 0x7F if first & 0x80 else 0)
    items = []
    while pos < len(der):
        length, head = der[pos + 1], 2
        if length & 0x80:
            head += length & 0x7F
            length = int.from_bytes(der[pos + 2:pos + head], "big")
        items.append(der[pos:pos + head + length])
        pos += head + length
    return items


def pbes2(iterations: int, salt: bytes, iv: bytes) -> bytes:
    """PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC."""
    prf = seq(oid("1.2.840.113549.2.9"), b"\x05\x00")
    kdf = seq(oid("1.2.840.113549.1.5.12"), seq(octets(salt), integer(iterations), prf))
    return seq(oid("1.2.840.113549.1.5.13"), seq(kdf, seq(oid("2.16.840.1.101.3.4.1.42"), octets(iv))))


def pbes2_encrypt(plain: bytes, password: bytes, iterations: int) -> tuple[bytes, bytes]:
    """(AlgorithmIdentifier, ciphertext) of `plain` under PBES2 (SHA-256, AES-256-CBC)."""
    salt, iv = os.urandom(16), os.urandom(16)
    key = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(password)
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    padded = padder.update(plain) + padder.finalize()
    return pbes2(iterations, salt, iv), encryptor.update(padded) + encryptor.finalize()


def pbmac1(authenticated: bytes, password: bytes, iterations: int) -> bytes:
    """RFC 9579 MacData: HMAC-SHA256 keyed by PBKDF2-HMAC-SHA256 over the authenticated safe's content."""
    import hmac

    salt = os.urandom(16)
    key = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(password)
    hmac_sha256 = seq(oid("1.2.840.113549.2.9"), b"\x05\x00")
    kdf = seq(oid("1.2.840.113549.1.5.12"), seq(octets(salt), integer(iterations), integer(32), hmac_sha256))
    algorithm = seq(oid("1.2.840.113549.1.5.14"), seq(kdf, hmac_sha256))
    digest = hmac.new(key, authenticated, "sha256").digest()
    return seq(seq(algorithm, octets(digest)), octets(b"NOT USED"), integer(1))


def value(element: bytes) -> bytes:
    """The contents of one encoded element (definite length)."""
    first = element[1]
    return element[2 + (first & 0x7F if first & 0x80 else 0):]

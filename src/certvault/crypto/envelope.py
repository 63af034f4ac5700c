"""AES-256-GCM sealing: data keys wrapped by a master key, values sealed by data keys.

Sealed value layout: b"CV1" | data-key id (16 bytes) | nonce (12) | ciphertext+tag.
The id lets a reader find the data key; the associated data binds a value to where it is stored.
"""

from __future__ import annotations

import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from certvault.errors import CertvaultError

MAGIC = b"CV1"
KEY_BYTES = 32
NONCE_BYTES = 12
_HEADER = len(MAGIC) + 16 + NONCE_BYTES


class DecryptionError(CertvaultError):
    """A sealed value could not be opened: wrong key, wrong context or corrupted bytes."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap_key(master: bytes, data_key: bytes, key_id: uuid.UUID) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master).encrypt(nonce, data_key, b"certvault-data-key:" + key_id.bytes)


def unwrap_key(master: bytes, wrapped: bytes, key_id: uuid.UUID) -> bytes:
    try:
        return AESGCM(master).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], b"certvault-data-key:" + key_id.bytes
        )
    except InvalidTag:
        raise DecryptionError(f"data key {key_id} does not open with the master key") from None


def seal(data_key: bytes, key_id: uuid.UUID, plaintext: bytes, aad: bytes = b"") -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return MAGIC + key_id.bytes + nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)


def sealed_key_id(blob: bytes) -> uuid.UUID:
    if len(blob) < _HEADER + 16 or not blob.startswith(MAGIC):
        raise DecryptionError("not a sealed value")
    return uuid.UUID(bytes=blob[3:19])


def open_sealed(data_key: bytes, blob: bytes, aad: bytes = b"") -> bytes:
    nonce = blob[19:_HEADER]
    try:
        return AESGCM(data_key).decrypt(nonce, blob[_HEADER:], aad)
    except InvalidTag:
        raise DecryptionError("sealed value is corrupted or bound to another record") from None

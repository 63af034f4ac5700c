"""DoubleLock cryptography: a secret's values under a key only its users' passphrases can reach.

Each user has an X25519 key pair whose private half is encrypted under a key derived (scrypt) from
their DoubleLock passphrase. A double-locked secret has a random 256-bit key; each user it is shared
with gets that key encrypted to their public key (ephemeral X25519 + HKDF + AES-GCM). Without a
passphrase nobody, administrators included, can unwrap the key, so the values stay unreadable.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from certvault.errors import Forbidden, InvalidInput

SCRYPT_N = 2**15
MIN_PASSPHRASE = 10
_RAW = serialization.Encoding.Raw


def _kek(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=8, p=1).derive(passphrase.encode())


def check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInput(f"a DoubleLock passphrase needs at least {MIN_PASSPHRASE} characters")


def new_keypair(passphrase: str) -> tuple[bytes, bytes, bytes]:
    """(public key, encrypted private key, salt) for a new DoubleLock identity."""
    check_passphrase(passphrase)
    private = X25519PrivateKey.generate()
    salt = os.urandom(16)
    return (private.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw),
            _encrypt_private(private, passphrase, salt), salt)


def _encrypt_private(private: X25519PrivateKey, passphrase: str, salt: bytes) -> bytes:
    raw = private.private_bytes(_RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    nonce = os.urandom(12)
    return nonce + AESGCM(_kek(passphrase, salt)).encrypt(nonce, raw, b"certvault-doublelock-private")


def unlock_private(encrypted: bytes, salt: bytes, passphrase: str) -> X25519PrivateKey:
    try:
        raw = AESGCM(_kek(passphrase, salt)).decrypt(encrypted[:12], encrypted[12:], b"certvault-doublelock-private")
    except InvalidTag:
        raise Forbidden("the DoubleLock passphrase is wrong") from None
    return X25519PrivateKey.from_private_bytes(raw)


def reencrypt_private(encrypted: bytes, salt: bytes, old: str, new: str) -> tuple[bytes, bytes]:
    check_passphrase(new)
    private = unlock_private(encrypted, salt, old)
    new_salt = os.urandom(16)
    return _encrypt_private(private, new, new_salt), new_salt


def new_secret_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _shared_key(shared: bytes, aad: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"certvault-doublelock:" + aad).derive(shared)


def wrap_for(public_key: bytes, secret_key: bytes, aad: str) -> bytes:
    ephemeral = X25519PrivateKey.generate()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(public_key))
    nonce = os.urandom(12)
    sealed = AESGCM(_shared_key(shared, aad.encode())).encrypt(nonce, secret_key, aad.encode())
    return ephemeral.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw) + nonce + sealed


def unwrap(private: X25519PrivateKey, wrapped: bytes, aad: str) -> bytes:
    shared = private.exchange(X25519PublicKey.from_public_bytes(wrapped[:32]))
    try:
        return AESGCM(_shared_key(shared, aad.encode())).decrypt(wrapped[32:44], wrapped[44:], aad.encode())
    except InvalidTag:
        raise Forbidden("this DoubleLock key does not open the secret") from None


def lock_value(secret_key: bytes, plaintext: bytes, aad: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(secret_key).encrypt(nonce, plaintext, aad.encode())


def unlock_value(secret_key: bytes, blob: bytes, aad: str) -> bytes:
    return AESGCM(secret_key).decrypt(blob[:12], blob[12:], aad.encode())

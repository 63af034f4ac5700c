"""Private keys: generation by spec, PEM (de)serialisation, descriptions."""

from __future__ import annotations

from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from certvault.errors import InvalidInput

KeySpec = Literal["ec256", "ec384", "rsa2048", "rsa3072", "rsa4096"]
KEY_SPECS: tuple[str, ...] = ("ec256", "ec384", "rsa2048", "rsa3072", "rsa4096")
SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def generate(spec: str) -> SigningKey:
    if spec == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    if spec == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if spec in ("rsa2048", "rsa3072", "rsa4096"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(spec[3:]))
    raise InvalidInput(f"unknown key type {spec!r}; choose one of {', '.join(KEY_SPECS)}")


def to_pem(key: PrivateKeyTypes, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def from_pem(data: bytes, password: bytes | None = None) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(data, password=password)
    except TypeError:
        raise InvalidInput("the private key is encrypted; give its password") from None
    except ValueError as exc:
        raise InvalidInput(f"the private key could not be read ({exc})") from None


def describe(key: PublicKeyTypes | PrivateKeyTypes) -> tuple[str, int]:
    """('RSA', 2048), ('EC', 256), ('Ed25519', 256) ..."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    return type(key).__name__.replace("PrivateKey", "").replace("PublicKey", ""), 0


def spki_der(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_matches(private: PrivateKeyTypes, public: PublicKeyTypes) -> bool:
    return spki_der(private.public_key()) == spki_der(public)

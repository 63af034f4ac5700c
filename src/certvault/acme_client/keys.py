"""Account keys as JWKs, the JWS algorithm that matches each, ARI certificate ids, key authorizations."""

from __future__ import annotations

import base64
import hashlib
import math

import josepy as jose
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from certvault.errors import InvalidInput


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_and_alg(key: PrivateKeyTypes) -> tuple[jose.JWK, jose.JWASignature]:
    """EC keys must sign with ES256/ES384 (the library's RS256 default fails on them)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algs = {256: jose.ES256, 384: jose.ES384, 521: jose.ES512}
        if key.curve.key_size not in algs:
            raise InvalidInput(f"EC curve {key.curve.name} cannot sign ACME requests")
        return jose.JWKEC(key=key), algs[key.curve.key_size]
    if isinstance(key, rsa.RSAPrivateKey):
        return jose.JWKRSA(key=key), jose.RS256
    raise InvalidInput("an ACME account key must be an EC (P-256/P-384) or RSA key")


def load_private_key(pem: bytes) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise InvalidInput("the key is encrypted; give it unencrypted (PEM)") from None
    except ValueError as exc:
        raise InvalidInput(f"the key could not be read as PEM ({exc})") from None


def thumbprint(key: PrivateKeyTypes) -> str:
    jwk, _ = jwk_and_alg(key)
    return b64url(jwk.public_key().thumbprint())


def key_authorization(token: str, account_thumbprint: str) -> str:
    return f"{token}.{account_thumbprint}"


def dns01_value(key_authz: str) -> str:
    """The TXT value for _acme-challenge.<name>: base64url(SHA-256(key authorization))."""
    return b64url(hashlib.sha256(key_authz.encode()).digest())


def ari_cert_id(cert: x509.Certificate) -> str:
    """RFC 9773 certID: base64url(AKI keyIdentifier) "." base64url(DER serial bytes)."""
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        raise InvalidInput("the certificate has no Authority Key Identifier, so ARI cannot name it") from None
    if aki is None:
        raise InvalidInput("the certificate's Authority Key Identifier has no key identifier")
    serial = cert.serial_number
    serial_bytes = serial.to_bytes(math.ceil((serial.bit_length() + 1) / 8), "big", signed=True)
    return f"{b64url(aki)}.{b64url(serial_bytes)}"

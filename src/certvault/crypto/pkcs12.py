"""PKCS#12 export with modern, Java- and OpenSSL-compatible encryption."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import PrivateFormat, pkcs12

from certvault.errors import InvalidInput


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

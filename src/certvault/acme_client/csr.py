"""Certificate signing requests: DNS and IP names, first DNS name as the CN, chosen hash."""

from __future__ import annotations

import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import NameOID

from certvault.errors import InvalidInput

HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}


def build_csr(key: PrivateKeyTypes, names: list[str], signature: str = "sha256") -> bytes:
    """DER CSR for `names` (DNS names and IP literals). The first DNS name becomes the CN."""
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise InvalidInput("certificate keys must be RSA or EC")
    if signature not in HASHES:
        raise InvalidInput(f"unknown signature hash {signature!r}; choose sha256, sha384 or sha512")
    general: list[x509.GeneralName] = []
    common_name = None
    for name in names:
        try:
            general.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            general.append(x509.DNSName(name))
            if common_name is None and len(name) <= 64:
                common_name = name
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject).add_extension(
        x509.SubjectAlternativeName(general), critical=False)
    csr = builder.sign(key, HASHES[signature]())
    return csr.public_bytes(serialization.Encoding.DER)

"""Java keystores (JKS and JCEKS) through pyjks: read certificates and keys, write JKS.

Keys are decrypted only after the keystore's integrity hash matched the password, and a JCEKS key's
iteration count (its own, chosen by whoever wrote the file) is charged to the file's budget first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from certvault.crypto import der, pbe
from certvault.errors import InvalidInput

MAGICS = (b"\xfe\xed\xfe\xed", b"\xce\xce\xce\xce")


@dataclass
class Keystore:
    certificates: list[x509.Certificate] = field(default_factory=list)
    keys: list[PrivateKeyTypes] = field(default_factory=list)


def load(data: bytes, password: str, label: str, budget: pbe.Budget | None = None) -> Keystore:
    import jks  # pyjks, with its ASN.1 and cipher modules, loads only when a keystore is read or written

    budget = budget or pbe.Budget(label)
    try:  # pyjks decrypts keys (JCEKS: any number of rounds) before it checks the password, unless told not to
        store = jks.KeyStore.loads(data, password, try_decrypt_keys=False)
    except jks.util.KeystoreSignatureException:
        raise InvalidInput(f"{label}: wrong password for the JKS keystore (or it is corrupt)") from None
    result = Keystore()
    for alias, entry in sorted(store.private_keys.items()):
        _charge(entry._encrypted, budget)  # the EncryptedPrivateKeyInfo pyjks will decrypt
        try:
            entry.decrypt(password)
        except jks.util.DecryptionFailureException:
            raise InvalidInput(f"{label}: the key {alias!r} has a password other than the keystore's") from None
        result.keys.append(serialization.load_der_private_key(entry.pkey_pkcs8, password=None))
        result.certificates.extend(x509.load_der_x509_certificate(blob) for _kind, blob in entry.cert_chain)
    for _alias, trusted in sorted(store.certs.items()):
        result.certificates.append(x509.load_der_x509_certificate(trusted.cert))
    return result


def _charge(encrypted: bytes, budget: pbe.Budget) -> None:
    algorithm = der.parse(encrypted).child(0, der.SEQUENCE)
    if algorithm.child(0).oid() == pbe.JCEKS:
        budget.algorithm(algorithm, "JCEKS key")


def export(alias: str, key: PrivateKeyTypes | None, cert: x509.Certificate, chain: list[x509.Certificate],
           password: str) -> bytes:
    """A JKS keystore: a private-key entry with its chain, or trusted-certificate entries."""
    import jks

    if not password:
        raise InvalidInput("a JKS export needs a password")
    ders = [c.public_bytes(serialization.Encoding.DER) for c in [cert, *chain]]
    entries: list[object] = []
    if key is not None:
        pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
        entries.append(jks.PrivateKeyEntry.new(alias, ders, pkcs8, "pkcs8"))
    else:
        entries.append(jks.TrustedCertEntry.new(alias, ders[0]))
        entries.extend(jks.TrustedCertEntry.new(f"{alias}-ca{i}", der) for i, der in enumerate(ders[1:], 1))
    store = jks.KeyStore.new("jks", entries)
    return bytes(store.saves(password))

"""Password-based encryption in keystores: the work each derivation asks for, capped, and decryption.

A keystore names its own key-derivation work (PBKDF2 and PKCS#12 iteration counts, scrypt's N·r·p,
JCEKS' MD5 rounds), and a library that trusts it spends that work before it can tell anything is wrong.
`Budget` refuses a derivation over MAX_ITERATIONS and a file whose derivations add up to more than
MAX_TOTAL, before any is run. Real keystores ask for far less: OpenSSL writes 2,048, Java's PKCS#12
10,000 (older Java 50,000 for keys and 100,000 for the MAC), JCEKS 200,000; Java itself refuses
counts over 5,000,000. `decrypt` opens the encrypted parts of a PKCS#12 file, whose bags may name
derivations of their own (crypto/pkcs12.py looks at them before the library does), and encrypted
PKCS#8 keys (with the GIL released while it derives, which cryptography's PEM loader does not).
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4, TripleDES
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from certvault.crypto.der import OCTET_STRING, DerError, Node
from certvault.errors import InvalidInput

MAX_ITERATIONS = 1_000_000  # one derivation: a MAC, a bag, a key
MAX_SCRYPT_COST = 262_144  # N·r·p of one scrypt derivation: 32 MiB, OpenSSL's own limit
MAX_TOTAL = 5_000_000  # every derivation of one file together (scrypt counts N·r·p)

PBES2, PBKDF2, PBMAC1, SCRYPT = ("1.2.840.113549.1.5.13", "1.2.840.113549.1.5.12", "1.2.840.113549.1.5.14",
                                 "1.3.6.1.4.1.11591.4.11")
JCEKS = "1.3.6.1.4.1.42.2.19.1"  # Sun's PBEWithMD5AndTripleDES
PBES1 = {f"1.2.840.113549.1.5.{n}" for n in (1, 3, 4, 6, 10, 11)}
PKCS12_PBE = {  # pbeWithSHAAnd...: (cipher, key bytes)
    "1.2.840.113549.1.12.1.1": ("rc4", 16), "1.2.840.113549.1.12.1.2": ("rc4", 5),
    "1.2.840.113549.1.12.1.3": ("3des", 24), "1.2.840.113549.1.12.1.4": ("3des", 16),
    "1.2.840.113549.1.12.1.5": ("rc2", 16), "1.2.840.113549.1.12.1.6": ("rc2", 5),
}
DIGESTS = {"1.3.14.3.2.26": "sha1", "2.16.840.1.101.3.4.2.4": "sha224", "2.16.840.1.101.3.4.2.1": "sha256",
           "2.16.840.1.101.3.4.2.2": "sha384", "2.16.840.1.101.3.4.2.3": "sha512", "1.2.840.113549.2.5": "md5"}
PRFS: dict[str, type[hashes.SHA1 | hashes.SHA224 | hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "1.2.840.113549.2.7": hashes.SHA1, "1.2.840.113549.2.8": hashes.SHA224, "1.2.840.113549.2.9": hashes.SHA256,
        "1.2.840.113549.2.10": hashes.SHA384, "1.2.840.113549.2.11": hashes.SHA512}
CIPHERS = {"2.16.840.1.101.3.4.1.2": ("aes", 16), "2.16.840.1.101.3.4.1.22": ("aes", 24),
           "2.16.840.1.101.3.4.1.42": ("aes", 32), "1.2.840.113549.3.7": ("3des", 24)}


class Budget:
    """The key-derivation work one file may ask for."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.spent = 0

    def spend(self, what: str, count: int, cap: int = MAX_ITERATIONS) -> None:
        if count < 1:
            raise InvalidInput(f"{self.label}: {what} {count:,} is not a positive number")
        if count > cap:
            raise InvalidInput(f"{self.label}: {what} {count:,} exceeds the maximum {cap:,}")
        self.spent += count
        if self.spent > MAX_TOTAL:
            raise InvalidInput(f"{self.label}: the file asks for more than {MAX_TOTAL:,} key-derivation iterations "
                               "in all")

    def algorithm(self, alg: Node, what: str) -> None:
        """Charge the derivation an AlgorithmIdentifier (PBES1/2, PBMAC1, PKCS#12 PBE, JCEKS) asks for."""
        oid = alg.child(0).oid()
        if oid in (PBES2, PBMAC1):
            self._kdf(alg.child(1).child(0), what)
        elif oid in PBES1 or oid in PKCS12_PBE or oid == JCEKS:
            self.spend(f"{what} iteration count", alg.child(1).child(1).integer())
        else:
            raise InvalidInput(f"{self.label}: {what} uses an unknown algorithm ({oid})")

    def _kdf(self, kdf: Node, what: str) -> None:
        oid, params = kdf.child(0).oid(), kdf.child(1)
        if oid == PBKDF2:
            self.spend(f"{what} PBKDF2 iteration count", params.child(1).integer())
        elif oid == SCRYPT:
            n, r, p = (params.child(i).integer() for i in (1, 2, 3))
            self.spend(f"{what} scrypt cost N·r·p", n * r * p, MAX_SCRYPT_COST)
        else:
            raise InvalidInput(f"{self.label}: {what} uses an unknown key derivation ({oid})")


def decrypt(alg: Node, data: bytes, password: str, secret: bytes | None = None) -> bytes:
    """Decrypt `data` with the scheme `alg` names (PBES2 or a PKCS#12 PBE, whose password is the BMPString
    `secret` when given): DerError for another scheme, ValueError when the password is wrong or the data is
    corrupt."""
    oid = alg.child(0).oid()
    if oid in PKCS12_PBE:
        kind, size = PKCS12_PBE[oid]
        salt, count = alg.child(1).child(0, OCTET_STRING).octets(), alg.child(1).child(1).integer()
        secret = bmp_candidates(password)[0] if secret is None else secret
        key, iv = pkcs12_kdf("sha1", secret, salt, count, 1, size), pkcs12_kdf("sha1", secret, salt, count, 2, 8)
        return _run(kind, key, None if kind == "rc4" else iv, data)
    if oid == PBES2:
        kdf, scheme = alg.child(1).child(0), alg.child(1).child(1)
        if scheme.child(0).oid() not in CIPHERS:
            raise DerError(f"unsupported PBES2 cipher {scheme.child(0).oid()}")
        kind, size = CIPHERS[scheme.child(0).oid()]
        key = _derive(kdf, password.encode(), size)
        return _run(kind, key, scheme.child(1, OCTET_STRING).octets(), data)
    raise DerError(f"unsupported encryption {oid}")


def pbmac1(alg: Node, password: bytes, message: bytes) -> bytes:
    """RFC 9579's PBMAC1: an HMAC keyed by PBKDF2."""
    kdf, scheme = alg.child(1).child(0), alg.child(1).child(1)
    size = kdf.child(1).child(2).integer()  # keyLength is required here
    digest = PRFS.get(scheme.child(0).oid())
    if digest is None:
        raise DerError("unsupported PBMAC1 HMAC")
    return hmac.new(_derive(kdf, password, size), message, digest().name).digest()


def bmp_candidates(password: str) -> list[bytes]:
    """The BMPString forms OpenSSL tries for a PKCS#12 password: UTF-16, for an empty one also no bytes at all,
    and each UTF-8 byte as a character (how OpenSSL 1.0 wrote non-ASCII passwords)."""
    found = [password.encode("utf-16-be") + b"\x00\x00"]
    if not password:
        found.append(b"")
    if not password.isascii():
        found.append(password.encode().decode("latin-1").encode("utf-16-be") + b"\x00\x00")
    return found


def _derive(kdf: Node, secret: bytes, size: int) -> bytes:
    oid, params = kdf.child(0).oid(), kdf.child(1)
    salt = params.child(0, OCTET_STRING).octets()
    if oid == SCRYPT:
        n, r, p = (params.child(i).integer() for i in (1, 2, 3))
        return Scrypt(salt=salt, length=size, n=n, r=r, p=p).derive(secret)
    if oid != PBKDF2:
        raise DerError(f"unsupported key derivation {oid}")
    prf = PRFS["1.2.840.113549.2.7"]  # hmacWithSHA1
    for extra in params.children[2:]:  # keyLength INTEGER OPTIONAL, prf AlgorithmIdentifier DEFAULT SHA-1
        if extra.constructed:
            if extra.child(0).oid() not in PRFS:
                raise DerError("unsupported PBKDF2 PRF")
            prf = PRFS[extra.child(0).oid()]
    return PBKDF2HMAC(prf(), size, salt, params.child(1).integer()).derive(secret)


def pkcs12_kdf(hash_name: str, secret: bytes, salt: bytes, count: int, purpose: int, size: int) -> bytes:
    """RFC 7292 appendix B.2: `purpose` 1 makes a key, 2 an IV, 3 a MAC key. In Python, so other threads run
    between the rounds."""
    new = getattr(hashlib, hash_name)
    v = new().block_size
    i = bytearray(_fill(salt, v) + _fill(secret, v))
    out = b""
    while len(out) < size:
        a = bytes([purpose]) * v + bytes(i)
        for _ in range(count):
            a = new(a).digest()
        out += a
        b = int.from_bytes(_fill(a, v)[:v], "big")
        for start in range(0, len(i), v):
            block = (int.from_bytes(i[start:start + v], "big") + b + 1) % (1 << (8 * v))
            i[start:start + v] = block.to_bytes(v, "big")
    return out[:size]


def _fill(data: bytes, v: int) -> bytes:
    """`data` repeated to the next multiple of `v` bytes (nothing for nothing)."""
    if not data:
        return b""
    length = v * -(-len(data) // v)
    return (data * (length // len(data) + 1))[:length]


def _run(kind: str, key: bytes, iv: bytes | None, data: bytes) -> bytes:
    if kind == "rc2":
        from Cryptodome.Cipher import ARC2  # RC2 with a 40-bit key, which cryptography does not offer

        # the cipher the file was written with; the stubs lack effective_keylen
        rc2 = ARC2.new(key, ARC2.MODE_CBC, iv=iv, effective_keylen=len(key) * 8)  # type: ignore[call-arg]  # noqa: S304
        return _unpad(rc2.decrypt(data), 64)
    if kind == "rc4":
        decryptor = Cipher(ARC4(key), None).decryptor()
        return decryptor.update(data) + decryptor.finalize()
    if kind == "3des" and len(key) == 16:
        key += key[:8]  # two-key 3DES as three keys: K1 K2 K1
    block: algorithms.AES | TripleDES = algorithms.AES(key) if kind == "aes" else TripleDES(key)
    decryptor = Cipher(block, modes.CBC(iv or b"")).decryptor()
    return _unpad(decryptor.update(data) + decryptor.finalize(), block.block_size)


def _unpad(plain: bytes, block_bits: int) -> bytes:
    unpadder = padding.PKCS7(block_bits).unpadder()
    return unpadder.update(plain) + unpadder.finalize()

"""The cipher-suite table: lookup by code, suites offered per protocol, weakness classes with reasons."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from certvault.tls.cipher_data import CIPHER_ROWS

PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
VERSION_CODES = {"SSLv3": 0x0300, "TLSv1.0": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}
PROTOCOL_BY_CODE = {code: name for name, code in VERSION_CODES.items()}

CBC_CIPHERS = frozenset({"AES", "Camellia", "ARIA", "3DES", "DES", "SEED", "IDEA", "RC2", "GOST"})


@dataclass(frozen=True)
class CipherSuite:
    code: int
    sslv2: bool
    name: str
    openssl_name: str
    min_protocol: str
    kx: str
    au: str
    enc: str
    bits: int
    mac: str
    export: bool

    @property
    def hex(self) -> str:
        return f"0x{self.code:06X}" if self.sslv2 else f"0x{self.code:04X}"

    @property
    def null(self) -> bool:
        return self.enc == "None"

    @property
    def anonymous(self) -> bool:
        return self.au == "None" and not self.null_kx and "PSK" not in self.kx and "SRP" not in self.kx

    @property
    def null_kx(self) -> bool:
        return self.kx == "None"

    @property
    def rc4(self) -> bool:
        return self.enc == "RC4"

    @property
    def block_64(self) -> bool:
        """64-bit block ciphers (SWEET32): 3DES, DES, IDEA, RC2."""
        return self.enc in {"3DES", "DES", "IDEA", "RC2"}

    @property
    def cbc(self) -> bool:
        return self.enc in CBC_CIPHERS

    @property
    def rsa_kx(self) -> bool:
        """Static RSA key exchange (the ROBOT precondition)."""
        return self.kx.startswith("RSA") and not self.sslv2 and self.min_protocol != "TLSv1.3"

    @property
    def forward_secret(self) -> bool:
        if self.min_protocol == "TLSv1.3":
            return True
        return self.kx.startswith(("DH", "ECDH")) and self.au not in {"DH", "ECDH"} and "PSK" not in self.kx

    @property
    def aead(self) -> bool:
        return self.mac == "AEAD"

    def weakness_reasons(self) -> list[str]:
        """Why this suite is weak, in words a ticket can carry; empty when it is fine."""
        reasons: list[str] = []
        if self.null:
            reasons.append("NULL cipher: no encryption")
        if self.anonymous:
            reasons.append("anonymous key exchange: no server authentication")
        if self.export:
            reasons.append("EXPORT-grade cipher (40/56-bit)")
        if self.rc4:
            reasons.append("RC4 stream cipher is broken")
        if self.enc == "DES" and not self.export:
            reasons.append("single DES (56-bit)")
        if self.block_64:
            reasons.append("64-bit block cipher (SWEET32)")
        if self.mac == "MD5":
            reasons.append("MD5 MAC")
        if 0 < self.bits < 112 and not self.export and self.enc != "DES":
            reasons.append(f"{self.bits}-bit encryption")
        if not self.forward_secret and not self.null_kx:
            reasons.append("no forward secrecy")
        return reasons


@cache
def all_suites() -> tuple[CipherSuite, ...]:
    return tuple(CipherSuite(*row) for row in CIPHER_ROWS)


@cache
def _by_code() -> dict[tuple[int, bool], CipherSuite]:
    return {(s.code, s.sslv2): s for s in all_suites()}


def lookup(code: int, sslv2: bool = False) -> CipherSuite:
    """The suite for a code; an unknown code gets a placeholder row rather than an error."""
    found = _by_code().get((code, sslv2))
    if found is not None:
        return found
    return CipherSuite(code, sslv2, f"UNKNOWN_0x{code:04X}", "", "TLSv1.2", "?", "?", "?", 0, "?", False)


@cache
def suites_for(protocol: str) -> tuple[CipherSuite, ...]:
    """Suites a ClientHello of this protocol offers, most common first (so small bundles catch most)."""
    if protocol == "SSLv2":
        return tuple(s for s in all_suites() if s.sslv2)
    if protocol == "TLSv1.3":
        return tuple(s for s in all_suites() if s.min_protocol == "TLSv1.3")
    ranked = [s for s in all_suites() if not s.sslv2 and s.min_protocol != "TLSv1.3" and s.code != 0]
    if protocol != "TLSv1.2":
        # TLS 1.2-only suites (GCM, SHA-256 MACs) cannot be chosen below 1.2: one bundle fewer per old version
        ranked = [s for s in ranked if s.min_protocol != "TLSv1.2"]
    return tuple(sorted(ranked, key=_popularity))


def _popularity(suite: CipherSuite) -> tuple[int, int]:
    """Common suites first: ECDHE/DHE/RSA with AES or ChaCha before the exotic ones."""
    exotic = any(tag in suite.kx for tag in ("PSK", "SRP", "KRB5", "GOST")) or suite.au in {"DH", "ECDH"}
    common_enc = suite.enc in {"AESGCM", "AES", "ChaCha20", "3DES", "RC4", "None", "DES"}
    return (2 if exotic else 0 if common_enc else 1, suite.code)


def cipher_entry(suite: CipherSuite) -> dict[str, object]:
    """The result-contract shape of one accepted suite."""
    reasons = suite.weakness_reasons()
    return {"code": suite.hex, "name": suite.name, "openssl_name": suite.openssl_name, "bits": suite.bits,
            "weak": bool(reasons), "reasons": reasons}

"""Ephemeral key-exchange parameters: the DH prime of a DHE ServerKeyExchange, the named curve of an ECDHE
one, the group of a TLS 1.3 key_share. SSL Labs and testssl.sh score them in the key-exchange category and
cap on them (Logjam). Read from the probes enumeration makes anyway: no connection of its own.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache
from typing import Any

from certvault.tls.ciphers import CipherSuite, lookup
from certvault.tls.grading import key_score
from certvault.tls.records import ServerFlight, ServerHello, TLSParseError

EXT_KEY_SHARE = 0x0033

# TLS named groups: (name, strength in bits as testssl.sh counts it).
CURVES: dict[int, tuple[str, int]] = {
    1: ("sect163k1", 163), 2: ("sect163r1", 162), 3: ("sect163r2", 163), 4: ("sect193r1", 193),
    5: ("sect193r2", 193), 6: ("sect233k1", 232), 7: ("sect233r1", 233), 8: ("sect239k1", 238),
    9: ("sect283k1", 281), 10: ("sect283r1", 282), 11: ("sect409k1", 407), 12: ("sect409r1", 409),
    13: ("sect571k1", 570), 14: ("sect571r1", 570), 15: ("secp160k1", 161), 16: ("secp160r1", 161),
    17: ("secp160r2", 161), 18: ("secp192k1", 192), 19: ("secp192r1", 192), 20: ("secp224k1", 225),
    21: ("secp224r1", 224), 22: ("secp256k1", 256), 23: ("secp256r1", 256), 24: ("secp384r1", 384),
    25: ("secp521r1", 521), 26: ("brainpoolP256r1", 256), 27: ("brainpoolP384r1", 384),
    28: ("brainpoolP512r1", 512), 29: ("x25519", 253), 30: ("x448", 448), 31: ("brainpoolP256r1tls13", 256),
    32: ("brainpoolP384r1tls13", 384), 33: ("brainpoolP512r1tls13", 512), 0x11EC: ("X25519MLKEM768", 253),
    0x11EB: ("SecP256r1MLKEM768", 256), 0x11ED: ("SecP384r1MLKEM1024", 384),
}
FFDHE: dict[int, tuple[str, int]] = {0x0100: ("ffdhe2048", 2048), 0x0101: ("ffdhe3072", 3072),
                                     0x0102: ("ffdhe4096", 4096), 0x0103: ("ffdhe6144", 6144),
                                     0x0104: ("ffdhe8192", 8192)}
_FFDHE_X = {2048: 560316, 3072: 2625351, 4096: 5736041, 6144: 15705020, 8192: 10965728}  # RFC 7919 appendix A
# RFC 2409 groups 1-2 and RFC 3526 groups 5, 14-18 (OpenSSL's "modp_N"; OpenSSL 3's automatic DH is modp_2048)
_MODP_K = {768: 149686, 1024: 129093, 1536: 741804, 2048: 124476, 3072: 1690314, 4096: 240904, 6144: 929484,
           8192: 4743158}
_GUARD = 8256  # fixed-point bits for e and pi: enough for floor(2^(b-130) x) at b = 8192


@dataclass(frozen=True)
class KeyExchange:
    kind: str           # "DHE" | "ECDHE"
    bits: int | None    # DH prime length, or the curve's strength; None for an unknown/explicit curve
    group: str | None   # named curve or RFC 7919 group; None for a custom DH prime

    @property
    def score(self) -> int:
        """The SSL Labs key-exchange score of these parameters (100 when their size is unknown)."""
        return 100 if self.bits is None else key_score("EC" if self.kind == "ECDHE" else "DH", self.bits)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "bits": self.bits, "group": self.group, "weak": self.weak}

    @property
    def weak(self) -> bool:
        """Below what SSL Labs caps on: DH primes under 2048 bits, curves scoring 40 or less."""
        if self.bits is None:
            return False
        return self.bits < 2048 if self.kind == "DHE" else self.score <= 40


NO_KEY_EXCHANGE: dict[str, Any] = {"kind": None, "bits": None, "group": None, "weak": False}


def ephemeral_kind(suite: CipherSuite) -> str | None:
    """"DHE"/"ECDHE" when a TLS <= 1.2 suite sends a ServerKeyExchange with ephemeral parameters."""
    if suite.sslv2 or suite.min_protocol == "TLSv1.3" or suite.au in {"DH", "ECDH"}:
        return None
    if suite.kx in {"ECDH", "ECDHEPSK"}:
        return "ECDHE"
    if suite.kx in {"DH", "DH(512)", "DH(1024)", "DHEPSK"}:
        return "DHE"
    return None


def until_key_exchange(flight: ServerFlight) -> bool:
    """Read-until predicate for probes: the ServerHello, plus the ServerKeyExchange of a DHE/ECDHE pick."""
    hello = flight.server_hello
    if hello is None:
        return False
    if hello.negotiated_version == 0x0304 or hello.hello_retry or ephemeral_kind(lookup(hello.cipher)) is None:
        return True
    return flight.server_key_exchange is not None or flight.hello_done


def key_exchange_of(flight: ServerFlight) -> KeyExchange | None:
    """The ephemeral parameters this flight shows, or None (static RSA, nothing sent, malformed)."""
    hello = flight.server_hello
    if hello is None:
        return None
    try:
        if hello.negotiated_version == 0x0304:
            return _from_key_share(hello)
        suite = lookup(hello.cipher)
        kind = ephemeral_kind(suite)
        if kind is None or flight.server_key_exchange is None:
            return None
        return parse_server_key_exchange(kind, flight.server_key_exchange, psk="PSK" in suite.kx)
    except TLSParseError:
        return None


def _from_key_share(hello: ServerHello) -> KeyExchange | None:
    share = hello.extensions.get(EXT_KEY_SHARE)
    if not share or len(share) < 2:
        return None
    return named_group(struct.unpack("!H", share[:2])[0])


def named_group(code: int) -> KeyExchange:
    if code in FFDHE:
        name, bits = FFDHE[code]
        return KeyExchange("DHE", bits, name)
    name, bits = CURVES.get(code, (f"group_0x{code:04X}", 0))
    return KeyExchange("ECDHE", bits or None, name)


def parse_server_key_exchange(kind: str, body: bytes, psk: bool = False) -> KeyExchange:
    """DHE: p, g, Ys (RFC 5246 7.4.3); ECDHE: curve type 3 + named curve (RFC 8422 5.4). Raises TLSParseError."""
    pos = 0
    if psk:  # DHE_PSK / ECDHE_PSK put the psk_identity_hint first (RFC 4279, RFC 5489)
        pos = 2 + _u16(body, 0)
    if kind == "DHE":
        length = _u16(body, pos)
        prime = body[pos + 2:pos + 2 + length]
        if len(prime) != length or not length:
            raise TLSParseError("truncated ServerKeyExchange (DH prime)")
        p = int.from_bytes(prime, "big")
        return KeyExchange("DHE", p.bit_length(), dh_group_name(p))
    if len(body) <= pos:
        raise TLSParseError("truncated ServerKeyExchange (curve type)")
    curve_type = body[pos]
    if curve_type == 3:
        return named_group(_u16(body, pos + 1))
    return KeyExchange("ECDHE", None, "explicit_prime" if curve_type == 1 else "explicit_char2")


def _u16(body: bytes, pos: int) -> int:
    if len(body) < pos + 2:
        raise TLSParseError("truncated ServerKeyExchange")
    return int(struct.unpack("!H", body[pos:pos + 2])[0])


def dh_group_name(prime: int) -> str | None:
    """The name of a well-known prime (RFC 7919 ffdhe, RFC 2409/3526 MODP), else None (a custom group)."""
    return _known_primes().get(prime)


@cache
def _known_primes() -> dict[int, str]:
    """ffdhe: p = 2^b - 2^(b-64) + (floor(2^(b-130) e) + X) 2^64 - 1; MODP the same with pi and - 2^(b-64) - 1."""
    e, pi = _e_fixed(), _pi_fixed()
    primes = {(1 << b) - (1 << (b - 64)) + ((e >> (_GUARD - b + 130)) + x) * (1 << 64) - 1: f"ffdhe{b}"
              for b, x in _FFDHE_X.items()}
    primes.update({(1 << b) - (1 << (b - 64)) - 1 + ((pi >> (_GUARD - b + 130)) + k) * (1 << 64): f"modp_{b}"
                   for b, k in _MODP_K.items()})
    return primes


def _e_fixed() -> int:
    total, term, k = 0, 1 << (_GUARD + 32), 0
    while term:
        total, k = total + term, k + 1
        term //= k
    return total >> 32


def _pi_fixed() -> int:
    def arctan_inv(x: int) -> int:  # arctan(1/x), Taylor series in fixed point
        one = 1 << (_GUARD + 32)
        total, power, n, sign = 0, one // x, 1, 1
        while power:
            total += sign * (power // n)
            power, n, sign = power // (x * x), n + 2, -sign
        return total

    return (16 * arctan_inv(5) - 4 * arctan_inv(239)) >> 32  # Machin


def weakest(found: list[KeyExchange]) -> KeyExchange | None:
    """The parameters that set the score: lowest score first, DH before EC on a tie, then fewest bits."""
    return min(found, key=lambda k: (k.score, k.kind != "DHE", k.bits or 0), default=None)

"""Hand-built ClientHello bytes for SSLv2 through TLS 1.3 (no TLS library, so every suite can be offered)."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

from certvault.tls.ciphers import VERSION_CODES

EXT_SERVER_NAME = 0x0000
EXT_STATUS_REQUEST = 0x0005
EXT_SUPPORTED_GROUPS = 0x000A
EXT_EC_POINT_FORMATS = 0x000B
EXT_SIGNATURE_ALGORITHMS = 0x000D
EXT_HEARTBEAT = 0x000F
EXT_PADDING = 0x0015
EXT_EXTENDED_MASTER_SECRET = 0x0017
EXT_SESSION_TICKET = 0x0023
EXT_SUPPORTED_VERSIONS = 0x002B
EXT_PSK_MODES = 0x002D
EXT_KEY_SHARE = 0x0033
EXT_RENEGOTIATION_INFO = 0xFF01

FALLBACK_SCSV = 0x5600
RENEGOTIATION_SCSV = 0x00FF
GROUP_X25519 = 0x001D

# x25519, secp256r1, secp384r1, secp521r1, x448, ffdhe2048..8192, then legacy binary/prime curves.
SUPPORTED_GROUPS = (0x001D, 0x0017, 0x0018, 0x0019, 0x001E, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104,
                    0x0016, 0x0015, 0x0014, 0x0013, 0x0012, 0x0011, 0x0010, 0x000F, 0x000E, 0x000D,
                    0x000C, 0x000B, 0x000A, 0x0009, 0x0008, 0x0007, 0x0006, 0x0005, 0x0004, 0x0003,
                    0x0002, 0x0001)
SIGNATURE_ALGORITHMS = (0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0807, 0x0808, 0x0809, 0x080A,
                        0x080B, 0x0401, 0x0501, 0x0601, 0x0303, 0x0301, 0x0302, 0x0402, 0x0502, 0x0602,
                        0x0203, 0x0201, 0x0202)


@dataclass(frozen=True)
class HelloOptions:
    sni: str | None = None
    compression: bool = False          # offer DEFLATE (CRIME check)
    heartbeat: bool = False            # offer the heartbeat extension (Heartbleed check)
    fallback_scsv: bool = False        # TLS_FALLBACK_SCSV (downgrade check)
    status_request: bool = False       # ask for an OCSP staple
    extra_suites: tuple[int, ...] = field(default=())


def _u8(data: bytes) -> bytes:
    return struct.pack("!B", len(data)) + data


def _u16(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


def _u24(data: bytes) -> bytes:
    return struct.pack("!I", len(data))[1:] + data


def _ext(ext_type: int, body: bytes) -> bytes:
    return struct.pack("!H", ext_type) + _u16(body)


def _u16_list(values: Iterable[int]) -> bytes:
    items = tuple(values)
    return struct.pack(f"!{len(items)}H", *items)


@cache
def _x25519_public() -> bytes:
    """One throwaway key share per process: servers only need a valid point to answer with ServerHello."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return X25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _sni_ext(sni: str) -> bytes:
    name = sni.encode("idna") if not sni.isascii() else sni.encode()
    return _ext(EXT_SERVER_NAME, _u16(b"\x00" + _u16(name)))


@cache
def _common_extensions(opts: HelloOptions, tls12_or_more: bool) -> tuple[bytes, ...]:
    """Constant per (options, version family): built once, reused by every probe."""
    exts: list[bytes] = []
    if opts.sni:
        exts.append(_sni_ext(opts.sni))
    exts.append(_ext(EXT_SUPPORTED_GROUPS, _u16(_u16_list(SUPPORTED_GROUPS))))
    exts.append(_ext(EXT_EC_POINT_FORMATS, _u8(b"\x00\x01\x02")))
    if tls12_or_more:
        exts.append(_ext(EXT_SIGNATURE_ALGORITHMS, _u16(_u16_list(SIGNATURE_ALGORITHMS))))
    exts.append(_ext(EXT_RENEGOTIATION_INFO, b"\x00"))
    exts.append(_ext(EXT_SESSION_TICKET, b""))
    exts.append(_ext(EXT_EXTENDED_MASTER_SECRET, b""))
    if opts.status_request:
        exts.append(_ext(EXT_STATUS_REQUEST, b"\x01\x00\x00\x00\x00"))
    if opts.heartbeat:
        exts.append(_ext(EXT_HEARTBEAT, b"\x01"))
    return tuple(exts)


def _pad(body_len: int, exts: list[bytes]) -> None:
    """Some middleboxes hang on hellos of 256-511 bytes (RFC 7685): pad those to 512."""
    size = body_len + 4 + sum(len(e) for e in exts)
    if 256 <= size < 512:
        exts.append(_ext(EXT_PADDING, b"\x00" * max(0, 512 - size - 4)))


def _handshake_record(record_version: int, body: bytes) -> bytes:
    handshake = b"\x01" + _u24(body)
    return struct.pack("!BH", 0x16, record_version) + _u16(handshake)


def client_hello(protocol: str, suites: Sequence[int], opts: HelloOptions = HelloOptions()) -> bytes:
    """A ClientHello record for SSLv3..TLS 1.3 offering exactly these suite codes."""
    if protocol == "TLSv1.3":
        return _tls13_hello(suites, opts)
    version = VERSION_CODES[protocol]
    codes = list(suites) + list(opts.extra_suites)
    if opts.fallback_scsv:
        codes.append(FALLBACK_SCSV)
    if protocol == "SSLv3":
        codes.append(RENEGOTIATION_SCSV)  # SSLv3 servers often reject extensions; the SCSV asks the same
    compression = b"\x01\x00" if opts.compression else b"\x00"
    head = struct.pack("!H", version) + os.urandom(32) + _u8(os.urandom(32)) + _u16(_u16_list(codes)) + _u8(compression)
    exts: list[bytes] = [] if protocol == "SSLv3" else list(_common_extensions(opts, version >= 0x0303))
    if exts:
        _pad(len(head), exts)
        head += _u16(b"".join(exts))
    return _handshake_record(0x0300 if protocol == "SSLv3" else 0x0301, head)


def _tls13_hello(suites: Sequence[int], opts: HelloOptions) -> bytes:
    codes = list(suites) + list(opts.extra_suites)
    head = b"\x03\x03" + os.urandom(32) + _u8(os.urandom(32)) + _u16(_u16_list(codes)) + _u8(b"\x00")
    exts = list(_common_extensions(opts, True))
    exts.append(_ext(EXT_SUPPORTED_VERSIONS, _u8(_u16_list([0x0304]))))
    exts.append(_ext(EXT_PSK_MODES, b"\x01\x01"))
    share = struct.pack("!H", GROUP_X25519) + _u16(_x25519_public())
    exts.append(_ext(EXT_KEY_SHARE, _u16(share)))
    _pad(len(head), exts)
    return _handshake_record(0x0301, head + _u16(b"".join(exts)))


def sslv2_client_hello(specs: Sequence[int]) -> bytes:
    """An SSLv2 CLIENT-HELLO (2-byte header) offering these 3-byte cipher specs."""
    cipher_specs = b"".join(struct.pack("!I", s)[1:] for s in specs)
    challenge = os.urandom(16)
    body = b"\x01\x00\x02" + struct.pack("!HHH", len(cipher_specs), 0, len(challenge)) + cipher_specs + challenge
    return struct.pack("!H", 0x8000 | len(body)) + body

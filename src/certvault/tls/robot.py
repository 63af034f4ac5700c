"""ROBOT (Bleichenbacher oracle) check: send five differently padded RSA ClientKeyExchanges and compare replies.

A server that answers every variant the same way gives no oracle. Different answers (an alert for one,
a close for another) are an oracle; the run is repeated once and must agree, else the verdict is "error".
"""

from __future__ import annotations

import asyncio
import os
import struct

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from certvault.tls.ciphers import VERSION_CODES, CipherSuite
from certvault.tls.hello import HelloOptions, client_hello
from certvault.tls.probe import Connector, read_flight, until_hello_done


class RobotInconclusive(Exception):
    """The server's answers changed between two identical runs."""


def _nonzero_random(length: int) -> bytes:
    out = b""
    while len(out) < length:
        out += bytes(b for b in os.urandom(length) if b)
    return out[:length]


def robot_payloads(modulus_bytes: int, version: int) -> list[bytes]:
    """The five plaintexts of the ROBOT paper's robot-detect: good, bad first bytes, 0x00 misplaced,
    no 0x00, wrong version in the premaster secret."""
    pms = struct.pack("!H", version) + os.urandom(46)
    pad = _nonzero_random(modulus_bytes - 3 - len(pms))
    good = b"\x00\x02" + pad + b"\x00" + pms
    wrong_first = b"\x41\x17" + pad + b"\x00" + pms
    misplaced = b"\x00\x02" + pad + b"\x11" + pms[:-2] + b"\x00" + pms[-1:]
    misplaced = misplaced[:modulus_bytes]
    no_zero = b"\x00\x02" + pad + b"\x11" + bytes(b or 1 for b in pms)
    wrong_version = b"\x00\x02" + pad + b"\x00" + b"\x02\x02" + pms[2:]
    return [good, wrong_first, misplaced, no_zero, wrong_version]


def _encrypt_raw(public: rsa.RSAPublicKey, plaintext: bytes) -> bytes:
    numbers = public.public_numbers()
    size = (public.key_size + 7) // 8
    return pow(int.from_bytes(plaintext, "big"), numbers.e, numbers.n).to_bytes(size, "big")


def _handshake_record(version: int, msg_type: int, body: bytes) -> bytes:
    message = struct.pack("!B", msg_type) + len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", 22, version, len(message)) + message


async def _one_attempt(conn: Connector, hello: bytes, version: int, encrypted: bytes) -> str:
    """Handshake to ServerHelloDone, send CKE + CCS + a bogus Finished, describe the answer."""
    cke_body = struct.pack("!H", len(encrypted)) + encrypted if version > 0x0300 else encrypted
    tail = (_handshake_record(version, 16, cke_body) + struct.pack("!BHHB", 20, version, 1, 1)
            + struct.pack("!BHH", 22, version, 48) + os.urandom(48))
    async with conn.open() as (reader, writer):
        writer.write(hello)
        first = await read_flight(reader, until_hello_done, conn.endpoint.timeout)
        if not first.hello_done:
            return "no ServerHelloDone"
        writer.write(tail)
        answer = await read_flight(reader, lambda f: bool(f.record_types), min(conn.endpoint.timeout, 3.0))
    if answer.alert is not None:
        return f"alert {answer.alert[1]}"
    return "closed" if answer.closed else "timeout"


async def _server_key(conn: Connector, hello: bytes) -> rsa.RSAPublicKey | None:
    flight = await conn.exchange(hello, until_hello_done)
    if not flight.certificates:
        return None
    key = x509.load_der_x509_certificate(flight.certificates[0]).public_key()
    return key if isinstance(key, rsa.RSAPublicKey) else None


async def _run(conn: Connector, hello_for: list[bytes], version: int, public: rsa.RSAPublicKey) -> list[str]:
    plaintexts = robot_payloads((public.key_size + 7) // 8, version)
    encrypted = [_encrypt_raw(public, p) for p in plaintexts]
    attempts = (_one_attempt(conn, h, version, e) for h, e in zip(hello_for, encrypted, strict=True))
    return list(await asyncio.gather(*attempts))


async def robot_verdict(conn: Connector, protocol: str, suites: list[CipherSuite], sni: str | None) -> str:
    version = VERSION_CODES[protocol]
    codes = [s.code for s in suites]

    def hello() -> bytes:
        return client_hello(protocol, codes, HelloOptions(sni=sni))

    public = await _server_key(conn, hello())
    if public is None:
        return "not_vulnerable"  # RSA suites without an RSA key cannot be an RSA decryption oracle
    first = await _run(conn, [hello() for _ in range(5)], version, public)
    if len(set(first)) == 1:
        return "not_vulnerable"
    second = await _run(conn, [hello() for _ in range(5)], version, public)
    if first != second:
        raise RobotInconclusive(f"answers changed between runs: {first} vs {second}")
    return "vulnerable"

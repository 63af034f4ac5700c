"""Full handshakes through OpenSSL (pyOpenSSL over memory BIOs on asyncio streams).

Only where the semantics need a real TLS state machine: the served chain and OCSP staple under
TLS 1.3, the HTTP GET for HSTS, and client-initiated renegotiation.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from OpenSSL import SSL

from certvault.tls.probe import Connector

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.serialization import Encoding

OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION = 0x00040000
CIPHERS_EVERYTHING = b"ALL:COMPLEMENTOFALL:@SECLEVEL=0"


class HandshakeFailed(Exception):
    """OpenSSL could not complete (or continue) the handshake; the message says why."""


@dataclass
class FullHandshake:
    chain_der: list[bytes] = field(default_factory=list)
    ocsp_staple: bytes | None = None
    protocol: str | None = None
    cipher: str | None = None
    http_head: str | None = None
    error: str | None = None


@cache
def _context(max_version: int | None) -> SSL.Context:
    """One context per max version for the whole process (building contexts is the slow part)."""
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_verify(SSL.VERIFY_NONE, lambda *_: True)
    ctx.set_min_proto_version(0)
    if max_version is not None:
        ctx.set_max_proto_version(max_version)
    ctx.set_cipher_list(CIPHERS_EVERYTHING)
    ctx.set_options(SSL.OP_LEGACY_SERVER_CONNECT | OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION | SSL.OP_NO_TICKET)
    ctx.set_ocsp_client_callback(_keep_staple)
    return ctx


def _keep_staple(conn: SSL.Connection, staple: bytes, _data: object) -> bool:
    holder = conn.get_app_data()
    if isinstance(holder, FullHandshake) and staple:
        holder.ocsp_staple = staple
    return True


class _Driver:
    """Moves bytes between an SSL.Connection's memory BIO and an asyncio stream."""

    def __init__(self, tls: SSL.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 timeout: float) -> None:
        self.tls, self.reader, self.writer = tls, reader, writer
        self.deadline = time.monotonic() + timeout

    def _flush(self) -> None:
        while True:
            try:
                out = self.tls.bio_read(65536)
            except SSL.WantReadError:
                return
            if not out:
                return
            self.writer.write(out)

    async def _pump(self) -> None:
        self._flush()
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise HandshakeFailed("timed out")
        try:
            data = await asyncio.wait_for(self.reader.read(65536), remaining)
        except TimeoutError as exc:
            raise HandshakeFailed("timed out") from exc
        except ConnectionError as exc:
            raise HandshakeFailed(f"connection reset ({exc.__class__.__name__})") from exc
        if not data:
            self.tls.bio_shutdown()
            raise HandshakeFailed("server closed the connection")
        self.tls.bio_write(data)

    async def handshake(self) -> None:
        while True:
            try:
                self.tls.do_handshake()
                self._flush()
                return
            except SSL.WantReadError:
                await self._pump()
            except SSL.Error as exc:
                self._flush()
                raise HandshakeFailed(_ssl_reason(exc)) from exc

    async def send(self, data: bytes) -> None:
        self.tls.sendall(data)
        self._flush()

    async def recv_until(self, marker: bytes, limit: int = 65536) -> bytes:
        got = b""
        while marker not in got and len(got) < limit:
            try:
                got += self.tls.recv(65536)
                continue
            except SSL.WantReadError:
                pass
            except SSL.ZeroReturnError:
                break
            except SSL.Error as exc:
                if got:
                    break
                raise HandshakeFailed(_ssl_reason(exc)) from exc
            try:
                await self._pump()
            except HandshakeFailed:
                if got:
                    break
                raise
        return got


def _ssl_reason(exc: SSL.Error) -> str:
    parts = [str(arg[2]) for arg in (exc.args[0] if exc.args and isinstance(exc.args[0], list) else [])
             if isinstance(arg, tuple) and len(arg) == 3]
    return "; ".join(parts) or str(exc) or exc.__class__.__name__


def _new_connection(max_version: int | None, sni: str | None, holder: FullHandshake) -> SSL.Connection:
    tls = SSL.Connection(_context(max_version), None)
    tls.set_app_data(holder)
    if sni:
        tls.set_tlsext_host_name(sni.encode("idna"))
    tls.request_ocsp()
    tls.set_connect_state()
    return tls


async def fetch_chain_and_headers(conn: Connector, sni: str | None, http_host: str | None,
                                  max_version: int | None = None) -> FullHandshake:
    """One full handshake: the served chain, the OCSP staple and, for HTTPS, the response head."""
    result = FullHandshake()
    async with conn.open() as (reader, writer):
        tls = _new_connection(max_version, sni, result)
        driver = _Driver(tls, reader, writer, conn.endpoint.timeout)
        try:
            await driver.handshake()
        except HandshakeFailed as exc:
            result.error = f"handshake: {exc}"
            return result
        result.chain_der = [c.public_bytes(_der()) for c in tls.get_peer_cert_chain(as_cryptography=True) or []]
        result.protocol = tls.get_protocol_version_name()
        result.cipher = tls.get_cipher_name()
        if http_host is not None:
            request = (f"GET / HTTP/1.1\r\nHost: {http_host}\r\nUser-Agent: certvault-scanner\r\n"
                       "Connection: close\r\n\r\n")
            try:
                await driver.send(request.encode())
                head = await driver.recv_until(b"\r\n\r\n")
                result.http_head = head.split(b"\r\n\r\n", 1)[0].decode("latin-1")
            except (HandshakeFailed, SSL.Error) as exc:
                result.error = f"HTTP: {exc}"
    return result


async def client_renegotiation_accepted(conn: Connector, sni: str | None, max_version: int) -> bool:
    """Handshake at <= TLS 1.2, then ask to renegotiate: does the server go through with it?"""
    holder = FullHandshake()
    async with conn.open() as (reader, writer):
        tls = _new_connection(max_version, sni, holder)
        driver = _Driver(tls, reader, writer, conn.endpoint.timeout)
        await driver.handshake()
        if not tls.renegotiate():
            return False
        try:
            await driver.handshake()
            # the renegotiation ClientHello is out; a server that refuses answers with an alert or closes
            await driver.send(b"")
            tls.do_handshake()
        except (HandshakeFailed, SSL.Error):
            return False
        for _ in range(20):
            if tls.total_renegotiations() > 0 and not tls.renegotiate_pending():
                return True
            try:
                tls.recv(1)
            except SSL.WantReadError:
                try:
                    await driver._pump()
                except HandshakeFailed:
                    return False
            except SSL.Error:
                return False
        return False


@cache
def _der() -> Encoding:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER

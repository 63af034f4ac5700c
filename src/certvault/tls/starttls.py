"""STARTTLS upgrades: talk each protocol's plaintext preamble until the server is ready for a ClientHello."""

from __future__ import annotations

import asyncio
import struct

PORT_PROTOCOLS = {25: "smtp", 587: "smtp", 143: "imap", 110: "pop3", 21: "ftp", 389: "ldap", 5432: "postgres"}
STARTTLS_PROTOCOLS = frozenset({"smtp", "imap", "pop3", "ftp", "ldap", "postgres"})
HTTPS_PORTS = frozenset({443, 8443, 4443, 9443, 10443})

# LDAP ExtendedRequest for StartTLS (OID 1.3.6.1.4.1.1466.20037), message id 1.
LDAP_STARTTLS = bytes.fromhex("301d02010177188016312e332e362e312e342e312e313436362e3230303337")
POSTGRES_SSLREQUEST = struct.pack("!II", 8, 80877103)


class StartTLSError(Exception):
    """The server did not agree to upgrade the connection."""


def choose_protocol(starttls: str | None, port: int) -> str | None:
    """The STARTTLS dialect for a target: explicit, 'none' for plain TLS, else chosen by port."""
    if starttls == "none":
        return None
    if starttls:
        if starttls not in STARTTLS_PROTOCOLS:
            raise ValueError(f"unknown STARTTLS protocol {starttls!r}; use one of {sorted(STARTTLS_PROTOCOLS)}")
        return starttls
    return PORT_PROTOCOLS.get(port)


async def _line_reply(reader: asyncio.StreamReader, multiline_smtp: bool = False) -> str:
    """Read one reply; SMTP/FTP continue with 'NNN-' lines until 'NNN '."""
    while True:
        line = (await reader.readline()).decode("latin-1")
        if not line:
            raise StartTLSError("connection closed during STARTTLS")
        if not multiline_smtp or len(line) < 4 or line[3] != "-":
            return line


async def _smtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    greeting = await _line_reply(reader, True)
    if not greeting.startswith("220"):
        raise StartTLSError(f"SMTP greeting: {greeting.strip()}")
    writer.write(b"EHLO certvault.scanner\r\n")
    await _line_reply(reader, True)
    writer.write(b"STARTTLS\r\n")
    reply = await _line_reply(reader, True)
    if not reply.startswith("220"):
        raise StartTLSError(f"SMTP STARTTLS refused: {reply.strip()}")


async def _ftp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _line_reply(reader, True)
    writer.write(b"AUTH TLS\r\n")
    reply = await _line_reply(reader, True)
    if not reply.startswith("234"):
        raise StartTLSError(f"FTP AUTH TLS refused: {reply.strip()}")


async def _imap(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _line_reply(reader)
    writer.write(b"a1 STARTTLS\r\n")
    while True:
        line = await _line_reply(reader)
        if line.startswith("a1 "):
            if not line.startswith("a1 OK"):
                raise StartTLSError(f"IMAP STARTTLS refused: {line.strip()}")
            return


async def _pop3(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _line_reply(reader)
    writer.write(b"STLS\r\n")
    reply = await _line_reply(reader)
    if not reply.startswith("+OK"):
        raise StartTLSError(f"POP3 STLS refused: {reply.strip()}")


async def _ldap(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(LDAP_STARTTLS)
    head = await reader.readexactly(2)
    length = head[1]
    if length & 0x80:
        length = int.from_bytes(await reader.readexactly(length & 0x7F), "big")
    body = await reader.readexactly(length)
    # resultCode is the first ENUMERATED (0x0a 0x01 code) inside the ExtendedResponse
    idx = body.find(b"\x0a\x01")
    if idx < 0 or body[idx + 2] != 0:
        raise StartTLSError("LDAP StartTLS refused")


async def _postgres(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(POSTGRES_SSLREQUEST)
    answer = await reader.readexactly(1)
    if answer != b"S":
        raise StartTLSError("PostgreSQL refused SSL (answered N)")


DIALECTS = {"smtp": _smtp, "imap": _imap, "pop3": _pop3, "ftp": _ftp, "ldap": _ldap, "postgres": _postgres}


async def upgrade(protocol: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await DIALECTS[protocol](reader, writer)
    await writer.drain()

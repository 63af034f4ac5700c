"""BEHAVIOUR SIMULATOR — not a real TLS stack.

No real server with these flaws exists on this machine (Heartbleed, CCS injection, ROBOT, compression,
missing TLS_FALLBACK_SCSV, SSLv2, EXPORT suites). This small asyncio server answers ClientHellos up to
ServerHelloDone and then reproduces, on the wire, exactly the behaviour each flaw shows to a scanner.
Tests prove testssl.sh or nmap flag each mode too, so the simulator matches what independent scanners
call vulnerable. Run: python -m tests.servers.tls.simulator MODE PORT CERT.pem KEY.pem
"""

from __future__ import annotations

import asyncio
import os
import struct
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

MODES = ("heartbleed", "ccs", "robot", "compression", "nofallback", "sslv2", "export", "baseline")
BASE_SUITES = [0x009C, 0x009D, 0x003C, 0x002F, 0x0035]  # RSA key transport: no ServerKeyExchange needed
EXPORT_SUITES = [0x0003, 0x0008, 0x0014, 0x0006]
SSLV2_SPECS = [0x010080, 0x020080, 0x030080, 0x040080, 0x060040, 0x0700C0]


def _record(content: int, version: int, payload: bytes) -> bytes:
    return struct.pack("!BHH", content, version, len(payload)) + payload


def _handshake(msg_type: int, body: bytes) -> bytes:
    return struct.pack("!B", msg_type) + len(body).to_bytes(3, "big") + body


def _alert(version: int, description: int) -> bytes:
    return _record(21, version, bytes([2, description]))


class ClientHello:
    def __init__(self, body: bytes) -> None:
        self.version = struct.unpack("!H", body[:2])[0]
        pos = 34
        sid = body[pos]
        pos += 1 + sid
        n = struct.unpack("!H", body[pos:pos + 2])[0]
        self.suites = [struct.unpack("!H", body[pos + 2 + i:pos + 4 + i])[0] for i in range(0, n, 2)]
        pos += 2 + n
        self.compression = list(body[pos + 1:pos + 1 + body[pos]])
        pos += 1 + body[pos]
        self.extensions: dict[int, bytes] = {}
        if pos + 2 <= len(body):
            end = pos + 2 + struct.unpack("!H", body[pos:pos + 2])[0]
            pos += 2
            while pos + 4 <= end:
                ext, length = struct.unpack("!HH", body[pos:pos + 4])
                self.extensions[ext] = body[pos + 4:pos + 4 + length]
                pos += 4 + length


class Simulator:
    def __init__(self, mode: str, cert_pem: bytes, key_pem: bytes) -> None:
        self.mode = mode
        self.cert_der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
        key = serialization.load_pem_private_key(key_pem, None)
        assert isinstance(key, rsa.RSAPrivateKey)
        self.key = key
        self.suites = (EXPORT_SUITES + BASE_SUITES) if mode == "export" else BASE_SUITES
        self.min_version = 0x0301

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await asyncio.wait_for(reader.readexactly(2), 10)
            if first[0] & 0x80 and first[0] != 0x80 | 0x16:
                await self._sslv2(first, reader, writer)
            else:
                await self._tls(first, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError, ValueError, IndexError, struct.error):
            pass
        finally:
            writer.close()

    async def _sslv2(self, first: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        length = ((first[0] & 0x7F) << 8) | first[1]
        body = await reader.readexactly(length)
        if self.mode != "sslv2" or body[0] != 1:
            return
        specs_len = struct.unpack("!H", body[3:5])[0]
        offered = {int.from_bytes(body[9 + i:12 + i], "big") for i in range(0, specs_len, 3)}
        common = b"".join(s.to_bytes(3, "big") for s in SSLV2_SPECS if s in offered)
        hello = (b"\x04\x00\x01\x00\x02" + struct.pack("!HHH", len(self.cert_der), len(common), 16)
                 + self.cert_der + common + os.urandom(16))
        writer.write(struct.pack("!H", 0x8000 | len(hello)) + hello)
        await writer.drain()
        await asyncio.sleep(0.2)

    async def _read_record(self, reader: asyncio.StreamReader, head: bytes = b"") -> tuple[int, bytes]:
        head = head + await reader.readexactly(5 - len(head))
        content, _version, length = struct.unpack("!BHH", head)
        return content, await reader.readexactly(length)

    async def _tls(self, first: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        content, payload = await self._read_record(reader, first)
        if content != 22 or payload[0] != 1:
            return
        hello = ClientHello(payload[4:4 + int.from_bytes(payload[1:4], "big")])
        version = min(hello.version, 0x0303)
        if version < self.min_version:
            writer.write(_alert(0x0301, 70))
            return
        if 0x5600 in hello.suites and version < 0x0303 and self.mode != "nofallback":
            writer.write(_alert(version, 86))
            return
        tls12_only = {0x009C, 0x009D, 0x003C}  # GCM and SHA-256 suites exist only from TLS 1.2 on
        usable = [s for s in self.suites if version >= 0x0303 or s not in tls12_only]
        cipher = next((s for s in usable if s in hello.suites), None)
        if cipher is None:
            writer.write(_alert(version, 40))
            return
        writer.write(self._server_flight(hello, version, cipher))
        await writer.drain()
        await self._after_hello_done(reader, writer, version)

    def _server_flight(self, hello: ClientHello, version: int, cipher: int) -> bytes:
        exts = b""
        if 0xFF01 in hello.extensions or 0x00FF in hello.suites:
            exts += struct.pack("!HH", 0xFF01, 1) + b"\x00"
        if self.mode == "heartbleed" and 0x000F in hello.extensions:
            exts += struct.pack("!HHB", 0x000F, 1, 1)
        compression = 1 if self.mode == "compression" and 1 in hello.compression else 0
        body = (struct.pack("!H", version) + os.urandom(32) + b"\x20" + os.urandom(32)
                + struct.pack("!HB", cipher, compression) + (struct.pack("!H", len(exts)) + exts if exts else b""))
        certs = len(self.cert_der).to_bytes(3, "big") + self.cert_der
        flight = (_handshake(2, body) + _handshake(11, len(certs).to_bytes(3, "big") + certs)
                  + _handshake(14, b""))
        return _record(22, version, flight)

    async def _after_hello_done(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                                version: int) -> None:
        ccs_seen = False
        while True:
            content, payload = await asyncio.wait_for(self._read_record(reader), 10)
            if content == 24 and self.mode == "heartbleed" and payload[:1] == b"\x01":
                claimed = struct.unpack("!H", payload[1:3])[0]
                leak = (b"SIMULATED-MEMORY" * 1100)[:min(claimed, 16384)]
                writer.write(_record(24, version, b"\x02" + struct.pack("!H", len(leak)) + leak + os.urandom(16)))
                await writer.drain()
                continue
            if content == 20 and self.mode == "ccs" and not ccs_seen:
                ccs_seen = True  # a vulnerable server takes the early CCS and keys its decryption with junk
                continue
            if ccs_seen:
                writer.write(_alert(version, 20))
                return
            if content == 22 and payload[:1] == b"\x10" and self.mode == "robot":
                writer.write(_alert(version, self._robot_answer(payload)))
                return
            writer.write(_alert(version, 10 if content == 20 else 40))
            return

    def _robot_answer(self, payload: bytes) -> int:
        """A strong Bleichenbacher oracle: bad_record_mac when padding is right, decrypt_error when wrong."""
        encrypted = payload[6:] if len(payload) > 6 else b""
        numbers = self.key.private_numbers()
        plain = pow(int.from_bytes(encrypted, "big"), numbers.d, numbers.public_numbers.n)
        data = plain.to_bytes((self.key.key_size + 7) // 8, "big")
        good = data[:2] == b"\x00\x02" and b"\x00" in data[10:] and len(data) - data.index(b"\x00", 2) - 1 == 48
        return 20 if good else 51


async def serve(mode: str, port: int, cert: Path, key: Path) -> None:
    sim = Simulator(mode, cert.read_bytes(), key.read_bytes())
    server = await asyncio.start_server(sim.handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])))

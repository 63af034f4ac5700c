"""Parse what a server sends back: TLS records, handshake messages, alerts, SSLv2 SERVER-HELLO.

The parser is incremental: feed bytes as they arrive, ask whether enough has been seen.
Malformed input raises TLSParseError (a peer bug is a finding, not a crash).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

CONTENT_CCS = 20
CONTENT_ALERT = 21
CONTENT_HANDSHAKE = 22
CONTENT_APPDATA = 23
CONTENT_HEARTBEAT = 24

HS_SERVER_HELLO = 2
HS_CERTIFICATE = 11
HS_SERVER_KEY_EXCHANGE = 12
HS_CERTIFICATE_REQUEST = 13
HS_SERVER_HELLO_DONE = 14
HS_CERTIFICATE_STATUS = 22

HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")

ALERT_NAMES = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 40: "handshake_failure",
               42: "bad_certificate", 47: "illegal_parameter", 50: "decode_error", 51: "decrypt_error",
               70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
               86: "inappropriate_fallback", 90: "user_canceled", 100: "no_renegotiation",
               109: "missing_extension", 110: "unsupported_extension", 112: "unrecognized_name"}


class TLSParseError(ValueError):
    """The peer sent bytes that are not the TLS the scanner expected."""


@dataclass
class ServerHello:
    version: int
    random: bytes
    cipher: int
    compression: int
    extensions: dict[int, bytes]

    @property
    def hello_retry(self) -> bool:
        return self.random == HRR_RANDOM

    @property
    def negotiated_version(self) -> int:
        """The real version: supported_versions when present (TLS 1.3), else the legacy field."""
        chosen = self.extensions.get(0x002B)
        if chosen and len(chosen) == 2:
            return int(struct.unpack("!H", chosen)[0])
        return self.version


@dataclass
class ServerFlight:
    """Everything of interest the server sent in reply to one ClientHello."""

    server_hello: ServerHello | None = None
    alert: tuple[int, int] | None = None
    certificates: list[bytes] = field(default_factory=list)
    ocsp_staple: bytes | None = None
    server_key_exchange: bytes | None = None  # the raw body; tls.keyexchange parses it (needs the suite)
    hello_done: bool = False
    heartbeat_reply: bytes = b""
    record_types: list[int] = field(default_factory=list)
    closed: bool = False

    @property
    def alert_name(self) -> str | None:
        if self.alert is None:
            return None
        return ALERT_NAMES.get(self.alert[1], f"alert_{self.alert[1]}")


class RecordReader:
    """Feeds raw bytes, splits records, reassembles handshake messages into a ServerFlight."""

    def __init__(self) -> None:
        self.flight = ServerFlight()
        self._buffer = b""
        self._handshake = b""

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 5:
            content, _version, length = struct.unpack("!BHH", self._buffer[:5])
            if content not in (CONTENT_CCS, CONTENT_ALERT, CONTENT_HANDSHAKE, CONTENT_APPDATA, CONTENT_HEARTBEAT):
                raise TLSParseError(f"not a TLS record (content type {content})")
            if length > 18432:
                raise TLSParseError(f"record too long ({length} bytes)")
            if len(self._buffer) < 5 + length:
                return
            payload, self._buffer = self._buffer[5:5 + length], self._buffer[5 + length:]
            self._record(content, payload)

    def _record(self, content: int, payload: bytes) -> None:
        self.flight.record_types.append(content)
        if content == CONTENT_ALERT and len(payload) >= 2 and self.flight.alert is None:
            self.flight.alert = (payload[0], payload[1])
        elif content == CONTENT_HEARTBEAT:
            self.flight.heartbeat_reply += payload
        elif content == CONTENT_HANDSHAKE and not self._encrypted():
            self._handshake += payload
            self._drain_handshake()

    def _encrypted(self) -> bool:
        hello = self.flight.server_hello
        return hello is not None and hello.negotiated_version == 0x0304 and not hello.hello_retry

    def _drain_handshake(self) -> None:
        while len(self._handshake) >= 4:
            msg_type = self._handshake[0]
            length = int.from_bytes(self._handshake[1:4], "big")
            if len(self._handshake) < 4 + length:
                return
            body, self._handshake = self._handshake[4:4 + length], self._handshake[4 + length:]
            self._message(msg_type, body)

    def _message(self, msg_type: int, body: bytes) -> None:
        if msg_type == HS_SERVER_HELLO:
            self.flight.server_hello = parse_server_hello(body)
        elif msg_type == HS_CERTIFICATE:
            self.flight.certificates = parse_certificate_list(body)
        elif msg_type == HS_CERTIFICATE_STATUS and len(body) > 4 and body[0] == 1:
            self.flight.ocsp_staple = body[4:4 + int.from_bytes(body[1:4], "big")]
        elif msg_type == HS_SERVER_KEY_EXCHANGE:
            self.flight.server_key_exchange = body
        elif msg_type == HS_SERVER_HELLO_DONE:
            self.flight.hello_done = True


def parse_server_hello(body: bytes) -> ServerHello:
    try:
        version = struct.unpack("!H", body[:2])[0]
        random = body[2:34]
        sid_len = body[34]
        pos = 35 + sid_len
        cipher = struct.unpack("!H", body[pos:pos + 2])[0]
        compression = body[pos + 2]
        extensions = _parse_extensions(body[pos + 3:])
    except (struct.error, IndexError) as exc:
        raise TLSParseError("truncated ServerHello") from exc
    return ServerHello(version, random, cipher, compression, extensions)


def _parse_extensions(data: bytes) -> dict[int, bytes]:
    if len(data) < 2:
        return {}
    total = struct.unpack("!H", data[:2])[0]
    data, found = data[2:2 + total], {}
    while len(data) >= 4:
        ext_type, length = struct.unpack("!HH", data[:4])
        found[ext_type] = data[4:4 + length]
        data = data[4 + length:]
    return found


def parse_certificate_list(body: bytes) -> list[bytes]:
    """The DER certificates of a TLS <= 1.2 Certificate message."""
    total = int.from_bytes(body[:3], "big")
    data, certs = body[3:3 + total], []
    while len(data) >= 3:
        length = int.from_bytes(data[:3], "big")
        certs.append(data[3:3 + length])
        data = data[3 + length:]
    return certs


@dataclass
class SSLv2ServerHello:
    certificate: bytes
    cipher_specs: list[int]


def parse_sslv2_server_hello(data: bytes) -> SSLv2ServerHello | None:
    """None while incomplete; raises TLSParseError when it is not an SSLv2 SERVER-HELLO."""
    if len(data) < 2:
        return None
    if not data[0] & 0x80:
        raise TLSParseError("not an SSLv2 record")
    length = ((data[0] & 0x7F) << 8) | data[1]
    if len(data) < 2 + length:
        return None
    body = data[2:2 + length]
    if len(body) < 11 or body[0] != 4:
        raise TLSParseError("not an SSLv2 SERVER-HELLO")
    cert_len, specs_len, _conn_id_len = struct.unpack("!HHH", body[5:11])
    cert = body[11:11 + cert_len]
    raw = body[11 + cert_len:11 + cert_len + specs_len]
    specs = [int.from_bytes(raw[i:i + 3], "big") for i in range(0, len(raw) - 2, 3)]
    return SSLv2ServerHello(cert, specs)

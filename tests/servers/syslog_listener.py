"""A syslog receiver on loopback: UDP datagrams, TCP and TLS with RFC 6587 octet counting."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from typing import Any

from tests.servers.process import free_port


class SyslogListener:
    def __init__(self, transport: str = "udp", tls_context: ssl.SSLContext | None = None) -> None:
        self.transport = transport
        self.port = free_port()
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._tls = tls_context
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        self._sock = socket.socket(socket.AF_INET, kind)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.settimeout(0.2)
        if transport != "udp":
            self._sock.listen(8)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> SyslogListener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def wait_for(self, needle: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for line in self.lines:
                    if needle in line:
                        return line
            time.sleep(0.05)
        raise TimeoutError(f"no syslog line with {needle!r}; got {self.lines}")

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                if self.transport == "udp":
                    data, _ = self._sock.recvfrom(65535)
                    self._add(data)
                    continue
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._read_stream, args=(conn,), daemon=True).start()

    def _read_stream(self, conn: Any) -> None:
        try:
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            conn.settimeout(5)
            buffer = b""
            while True:
                chunk = conn.recv(65535)
                if not chunk:
                    break
                buffer += chunk
                buffer = self._frames(buffer)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def _frames(self, buffer: bytes) -> bytes:
        while b" " in buffer:
            length, _, rest = buffer.partition(b" ")
            if not length.isdigit() or len(rest) < int(length):
                break
            self._add(rest[: int(length)])
            buffer = rest[int(length):]
        return buffer

    def _add(self, data: bytes) -> None:
        with self._lock:
            self.lines.append(data.decode("utf-8", errors="replace"))

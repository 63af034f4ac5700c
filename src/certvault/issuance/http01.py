"""The built-in http-01 responder (IPv4 and IPv6) and the webroot writer.

One responder per (address, port) per process serves every token registered in it; the engine
registers tokens again when it resumes an order after a restart, so nothing depends on memory
surviving a crash.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from certvault.errors import IntegrationError, InvalidInput

log = logging.getLogger("certvault.issuance.http01")
PREFIX = "/.well-known/acme-challenge/"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], tokens: dict[str, str]) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.tokens = tokens
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        token = self.path.split("?", 1)[0][len(PREFIX):] if self.path.startswith(PREFIX) else ""
        body = self.server.tokens.get(token)
        if body is None:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base-class signature
        log.debug("http-01 %s", format % args)


class StandaloneResponder:
    """Serves /.well-known/acme-challenge/<token> on every given address while tokens exist."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}
        self._servers: dict[tuple[str, int], _Server] = {}
        self._lock = threading.Lock()

    def add(self, token: str, key_authorization: str, addresses: list[str], port: int) -> None:
        with self._lock:
            self.tokens[token] = key_authorization
            for address in addresses:
                if (address, port) not in self._servers:
                    self._servers[(address, port)] = self._listen(address, port)

    def remove(self, token: str) -> None:
        with self._lock:
            self.tokens.pop(token, None)
            if not self.tokens:
                for server in self._servers.values():
                    server.shutdown()
                    server.server_close()
                self._servers.clear()

    def _listen(self, address: str, port: int) -> _Server:
        try:
            server = _Server((address, port), self.tokens)
        except OSError as exc:
            hint = " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" if port < 1024 else ""
            raise IntegrationError(f"the http-01 responder cannot listen on [{address}]:{port}: "
                                   f"{exc.strerror or exc}{hint}") from None
        threading.Thread(target=server.serve_forever, name=f"http01-{address}-{port}", daemon=True).start()
        return server


_RESPONDER = StandaloneResponder()


def responder() -> StandaloneResponder:
    return _RESPONDER


def check_webroot(path: str | None) -> str:
    if not path or not os.path.isabs(path):
        raise InvalidInput("webroot must be the absolute path of the web server's document root")
    if not Path(path).is_dir():
        raise InvalidInput(f"webroot {path} is not an existing directory")
    return path


def write_webroot(webroot: str, token: str, key_authorization: str) -> None:
    directory = Path(webroot) / ".well-known" / "acme-challenge"
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o755)
        target = directory / token
        tmp = directory / f".{token}.tmp"
        tmp.write_text(key_authorization)
        tmp.chmod(0o644)  # readable by the web server's user
        tmp.replace(target)
    except OSError as exc:
        raise IntegrationError(f"cannot write the http-01 file under {webroot}: {exc.strerror or exc}") from None


def remove_webroot(webroot: str, token: str) -> None:
    try:
        (Path(webroot) / ".well-known" / "acme-challenge" / token).unlink(missing_ok=True)
    except OSError:
        log.warning("could not remove http-01 file %s from %s", token, webroot)

"""Loopback servers for the outbound client's tests, each in a thread of the test process:
an HTTPS server that requires a client certificate, a listener that never answers, and a
CONNECT proxy. All bind 127.0.0.1 on a port the kernel picks."""

from __future__ import annotations

import gzip
import json
import socket
import ssl
import threading
import time
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from certvault.outbound import ClientIdentity
from tests.outbound.pki import Pki, pem


class MutualTLSServer(ThreadingHTTPServer):
    """HTTPS on 127.0.0.1 that refuses any client without a certificate from a trusted client CA.

    Paths: /whoami (the client certificate's CN), /retry/<id>?times=N&after=V&status=S (S, with
    Retry-After V, N times, then 200; V "date:3" is an HTTP date 3 s ahead), /big?n=N[&chunked=1]
    [&gzip=1], /slow?s=S, /echo (request headers as JSON). `cookie=V` adds Set-Cookie to any answer.
    """

    daemon_threads = True

    def __init__(self, pki: Pki) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ClientIdentity(pki.server.key, pki.server.cert, (pki.ca.cert,)).load_into(self.context)  # no key file
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.context.load_verify_locations(cadata=pem(pki.ca.cert).decode())
        self.hits: Counter[str] = Counter()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}"

    def trust_client_ca(self, ca_pem: str | bytes) -> None:
        self.context.load_verify_locations(cadata=ca_pem.decode() if isinstance(ca_pem, bytes) else ca_pem)

    def start(self) -> MutualTLSServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()  # the handshake runs in the handler's thread
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # refused handshakes are what some tests are about


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: MutualTLSServer
    body = b""

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        route = url.path.strip("/").split("/")[0]
        self.body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        getattr(self, f"_{route}", self._missing)(url.path, query)

    do_POST = do_GET

    def _whoami(self, _path: str, query: dict[str, str]) -> None:
        subject = dict(x[0] for x in self.connection.getpeercert()["subject"])  # type: ignore[union-attr,index]
        self._send(200, subject["commonName"].encode(), query)

    def _retry(self, path: str, query: dict[str, str]) -> None:
        self.server.hits[path] += 1
        if self.server.hits[path] > int(query.get("times", "1")):
            self._send(200, b"ok", query)
            return
        after = query.get("after")
        if after and after.startswith("date:"):
            after = formatdate(time.time() + float(after[5:]), usegmt=True)
        self._send(int(query.get("status", "503")), b"busy", query, {"Retry-After": after} if after else {})

    def _big(self, _path: str, query: dict[str, str]) -> None:
        body = bytes(int(query["n"]))
        if "gzip" in query:
            body = gzip.compress(body)
        extra = {"Content-Encoding": "gzip"} if "gzip" in query else {}
        if "chunked" not in query:
            self._send(200, body, query, extra)
            return
        self.send_response(200)
        for name, value in {**extra, "Transfer-Encoding": "chunked"}.items():
            self.send_header(name, value)
        self.end_headers()
        for start in range(0, len(body), 1024):
            part = body[start:start + 1024]
            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def _slow(self, _path: str, query: dict[str, str]) -> None:
        time.sleep(float(query.get("s", "1")))
        self._send(200, b"late", query)

    def _echo(self, _path: str, query: dict[str, str]) -> None:
        self._send(200, json.dumps(dict(self.headers.items())).encode(), query)

    def _missing(self, _path: str, query: dict[str, str]) -> None:
        self._send(404, b"no such path", query)

    def _send(self, status: int, body: bytes, query: dict[str, str], headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "cookie" in query:
            self.send_header("Set-Cookie", f"session={query['cookie']}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


class SilentListener:
    """Accepts TCP connections (in the kernel's backlog) and never says a word: a TLS handshake stalls."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"https://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()


class ConnectProxy:
    """An HTTP CONNECT proxy that records each tunnel's target and Proxy-Authorization header."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.tunnels: list[tuple[str, str | None]] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.recv(4096)
        lines = head.decode().split("\r\n")
        target = lines[0].split()[1]
        auth = next((line.split(":", 1)[1].strip() for line in lines
                     if line.lower().startswith("proxy-authorization:")), None)
        self.tunnels.append((target, auth))
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)
        client.close()
        upstream.close()

    def close(self) -> None:
        self.sock.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

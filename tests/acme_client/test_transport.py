"""The HTTPS transport of the ACME client against a small raw TLS server that records what arrives:
one kept-alive connection, each request in one TLS record, reconnects when the server closes, the
`requests` exceptions callers expect."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from certvault.acme_client.transport import MAX_BODY, Transport
from tests.servers.tls_files import write_tls_files


class RawTLSServer:
    """HTTP/1.1 over TLS by hand: each connection's first read of every request is kept."""

    def __init__(self, directory: Path) -> None:
        self.ca, cert, key = write_tls_files(directory)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert), str(key))
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.first_reads: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            with self.context.wrap_socket(raw, server_side=True) as conn:
                while True:
                    data = conn.recv(65536)  # one TLS record at most
                    if not data:
                        return
                    self.first_reads.append(data)
                    head, _, body = data.partition(b"\r\n\r\n")
                    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), 0)
                    while len(body) < length:
                        body += conn.recv(65536)
                    if not self._answer(conn, head.split(b" ")[1].decode(), body):
                        return
        except (OSError, ssl.SSLError):
            return

    def _answer(self, conn: ssl.SSLSocket, path: str, body: bytes) -> bool:
        headers = ["HTTP/1.1 200 OK", "Content-Type: application/json"]
        payload = b'{"received": %d}' % len(body)
        if path == "/links":
            headers += ['Link: <https://ca.test/a>;rel="up"', 'Link: <https://ca.test/b>;rel="alternate"']
        if path == "/redirect":
            headers, payload = ["HTTP/1.1 302 Found", "Location: /links"], b""
        if path == "/close":
            headers.append("Connection: close")
        if path == "/flood":
            payload = b"x" * (MAX_BODY + 1)
        headers.append(f"Content-Length: {len(payload)}")
        conn.sendall("\r\n".join(headers).encode() + b"\r\n\r\n" + payload)
        return path != "/close"

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RawTLSServer]:
    srv = RawTLSServer(tmp_path / "tls")
    yield srv
    srv.close()


def test_requests_share_one_connection_and_arrive_in_one_record(server: RawTLSServer) -> None:
    transport = Transport(str(server.ca))
    for n in range(5):
        body = b'{"n": %d, "pad": "%s"}' % (n, b"x" * 2000)
        response = transport.request("POST", server.url("/echo"), data=body,
                                     headers={"Content-Type": "application/jose+json"}, timeout=5)
        assert response.status_code == 200 and response.json() == {"received": len(body)}
    assert server.connections == 1
    # request line, headers and body in one TLS record: the server's first read holds the whole body
    assert all(read.endswith(b"x" * 2000 + b'"}') for read in server.first_reads)
    transport.close()


def test_repeated_headers_redirects_and_a_closed_connection(server: RawTLSServer) -> None:
    transport = Transport(str(server.ca))
    links = transport.request("GET", server.url("/redirect"), timeout=5)  # GET follows the redirect
    assert links.headers["link"] == '<https://ca.test/a>;rel="up", <https://ca.test/b>;rel="alternate"'
    assert links.links["alternate"]["url"] == "https://ca.test/b"
    assert transport.request("POST", server.url("/redirect"), data=b"{}", timeout=5).status_code == 302
    assert transport.request("POST", server.url("/close"), data=b"{}", timeout=5).status_code == 200
    assert transport.request("POST", server.url("/echo"), data=b"{}", timeout=5).json() == {"received": 2}
    assert server.connections == 2  # a new connection after the server closed the first
    transport.close()


def test_errors_are_the_requests_exceptions_callers_handle(server: RawTLSServer, tmp_path: Path) -> None:
    other_ca, _, _ = write_tls_files(tmp_path / "other")
    with pytest.raises(requests.exceptions.SSLError):
        Transport(str(other_ca)).request("GET", server.url("/echo"), timeout=5)
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(requests.exceptions.ConnectionError):
        Transport(str(server.ca)).request("GET", f"https://127.0.0.1:{port}/", timeout=5)


def test_an_answer_larger_than_the_limit_is_refused_and_the_connection_dropped(server: RawTLSServer) -> None:
    transport = Transport(str(server.ca))
    with pytest.raises(requests.exceptions.RequestException, match="larger than"):
        transport.request("GET", server.url("/flood"), timeout=10)
    assert transport.request("POST", server.url("/echo"), data=b"{}", timeout=5).json() == {"received": 2}
    assert server.connections == 2
    transport.close()

"""The body limit against `certvault serve` itself (uvicorn, TLS, real sockets).

A declared Content-Length past the limit is answered before the body is sent; a chunked body is answered
413 while it is still being sent; neither leaves an audit row.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import ssl
from contextlib import closing

from tests.servers.certvault_server import LiveServer


def _connect(live: LiveServer) -> ssl.SSLSocket:
    raw = socket.create_connection((live.host, live.port), timeout=10)
    return live.ssl_context().wrap_socket(raw, server_hostname=live.host)


def _answer(conn: ssl.SSLSocket, data: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        body += conn.recv(65536)
    return int(lines[0].split()[1]), headers, body


def _audit_total(live: LiveServer) -> int:
    with closing(sqlite3.connect(f"file:{live.data_dir / 'certvault.db'}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT count(*) FROM audit_events").fetchone()[0])


def _ready(conn: ssl.SSLSocket) -> bytes:
    """What the server has answered so far, without waiting (TLS records that carry no data give nothing)."""
    conn.setblocking(False)
    try:
        return conn.recv(65536)
    except ssl.SSLWantReadError:
        return b""
    finally:
        conn.setblocking(True)
        conn.settimeout(10)


def _post_head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", *headers, "", ""]
    return "\r\n".join(lines).encode()


def test_a_declared_100_mb_login_is_refused_before_its_body_is_sent(live: LiveServer) -> None:
    before = _audit_total(live)
    with _connect(live) as conn:
        conn.sendall(_post_head("/api/v1/auth/login", "Content-Length: 100000000"))  # and not one byte more
        status, headers, body = _answer(conn)
    assert status == 413 and headers["connection"] == "close"
    assert json.loads(body)["detail"].startswith("the request body is larger than 1,048,576 bytes")
    assert _audit_total(live) == before


def test_a_chunked_login_is_cut_off_while_it_is_sent(live: LiveServer) -> None:
    before = _audit_total(live)
    chunk = b"u" * 65536
    sent = 0
    with _connect(live) as conn:
        conn.sendall(_post_head("/api/v1/auth/login", "Transfer-Encoding: chunked") + b'e\r\n{"username": "\r\n')
        answered = b""
        while not answered and sent < 100_000_000:
            try:
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:  # the server closed after answering
                break
            sent += len(chunk)
            answered = _ready(conn)
        status, _, body = _answer(conn, answered)
    assert status == 413 and json.loads(body)["code"] == "too_large"
    assert sent < 50_000_000  # answered long before the 100 MB were through
    assert _audit_total(live) == before

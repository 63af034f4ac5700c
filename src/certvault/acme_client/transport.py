"""HTTPS to a CA over kept-alive `http.client` connections, answering with `requests.Response` objects.

`requests.Session.request` spends about as much Python on every call (merging settings, preparing
the URL, cookies, hooks) as sending it and reading the answer, and urllib3 writes a POST's headers
and body as two TLS records (two syscalls, two wake-ups of the CA). An ACME client makes seven
calls per certificate to one host and needs none of that: one connection per host, reused while
the server keeps it open, each request written at once. Errors are raised as the `requests`
exceptions callers already handle. Used when no proxy is configured (see network.py).
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import certifi
import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
MAX_BODY = 8 * 1024 * 1024  # a certificate chain or a directory is a few kB; refuse a CA that floods


def tls_context(verify: bool | str) -> ssl.SSLContext:
    """As requests verifies: the given bundle, else certifi's; `False` checks nothing."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=verify if isinstance(verify, str) else certifi.where())


class _OneWrite:
    """Mixin: `request` gathers the request line, headers and body and writes them with one call
    (http.client sends headers and body separately: two TLS records, two wake-ups of the server)."""

    _gathering: list[bytes] | None = None

    def send(self, data: Any) -> None:  # http.client's own signature: bytes, a file or an iterable
        if self._gathering is not None:
            self._gathering.append(bytes(data))
        else:
            super().send(data)  # type: ignore[misc]

    def request_at_once(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> None:
        self._gathering = []
        try:
            self.request(method, path, body=body, headers=headers)  # type: ignore[attr-defined]
            data = b"".join(self._gathering)
        finally:
            self._gathering = None
        self.send(data)


class _HTTPS(_OneWrite, http.client.HTTPSConnection):
    pass


class _HTTP(_OneWrite, http.client.HTTPConnection):
    pass


class Transport:
    """Kept-alive HTTPS connections, one per host (a client is used by one thread at a time)."""

    def __init__(self, verify: bool | str) -> None:
        self._context = tls_context(verify)
        self._connections: dict[tuple[str, str, int], _HTTP | _HTTPS] = {}

    def request(self, method: str, url: str, *, data: bytes | str | None = None,
                headers: Mapping[str, str] | None = None, timeout: float | None = None) -> requests.Response:
        body = data.encode() if isinstance(data, str) else data
        for _ in range(MAX_REDIRECTS + 1):
            response = self._once(method, url, body, dict(headers or {}), timeout)
            location = response.headers.get("Location")
            if method != "GET" or response.status_code not in REDIRECTS or not location:
                return response
            url = urljoin(url, location)
        return response

    def _once(self, method: str, url: str, body: bytes | None, headers: dict[str, str],
              timeout: float | None) -> requests.Response:
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn = self._connection(key, timeout)
        try:
            conn.request_at_once(method, path, body, headers)
            raw = conn.getresponse()
            content = raw.read(MAX_BODY + 1)
            if len(content) > MAX_BODY:
                self._drop(key)
                raise requests.exceptions.ContentDecodingError(f"{url}: the answer is larger than {MAX_BODY} bytes")
        except ssl.SSLError as exc:
            self._drop(key)
            raise requests.exceptions.SSLError(f"{url}: {exc}") from exc
        except TimeoutError as exc:
            self._drop(key)
            raise requests.exceptions.ReadTimeout(f"{url}: timed out") from exc
        except (OSError, http.client.HTTPException) as exc:
            self._drop(key)
            raise requests.exceptions.ConnectionError(f"{url}: {exc}") from exc
        if raw.will_close:
            self._drop(key)
        return _response(raw, content, url)

    def _connection(self, key: tuple[str, str, int], timeout: float | None) -> _HTTP | _HTTPS:
        conn = self._connections.get(key)
        if conn is not None and _dropped(conn):
            self._drop(key)
            conn = None
        if conn is None:
            scheme, host, port = key
            conn = (_HTTPS(host, port, timeout=timeout, context=self._context) if scheme == "https"
                    else _HTTP(host, port, timeout=timeout))
            try:
                conn.connect()
            except ssl.SSLError as exc:
                raise requests.exceptions.SSLError(f"{scheme}://{host}:{port}: {exc}") from exc
            except TimeoutError as exc:
                raise requests.exceptions.ConnectTimeout(f"{scheme}://{host}:{port}: timed out") from exc
            except OSError as exc:
                raise requests.exceptions.ConnectionError(f"{scheme}://{host}:{port}: {exc}") from exc
            if conn.sock is not None:
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._connections[key] = conn
        elif conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def _drop(self, key: tuple[str, str, int]) -> None:
        conn = self._connections.pop(key, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        for key in list(self._connections):
            self._drop(key)


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """The server closed the idle connection (it is readable: EOF), as urllib3 checks before reuse."""
    if conn.sock is None:
        return True
    try:
        readable, _, _ = select.select([conn.sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _response(raw: http.client.HTTPResponse, content: bytes, url: str) -> requests.Response:
    response = requests.Response()
    response.status_code = raw.status
    response.headers = CaseInsensitiveDict(_joined(raw.getheaders()))
    response._content = content  # noqa: SLF001 - how requests itself fills a read response
    response.encoding = get_encoding_from_headers(response.headers)
    response.reason = raw.reason or ""
    response.url = url
    response.elapsed = timedelta(0)
    return response


def _joined(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Repeated headers (Link) joined with ", ", as urllib3 and requests present them."""
    out: dict[str, str] = {}
    lowered: dict[str, str] = {}
    for name, value in pairs:
        first = lowered.setdefault(name.lower(), name)
        out[first] = f"{out[first]}, {value}" if first in out else value
    return out

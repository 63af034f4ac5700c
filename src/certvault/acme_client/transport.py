"""HTTPS to one CA through urllib3 directly, answering with `requests.Response` objects.

`requests.Session.request` spends about as much Python on every call (merging settings, preparing
the URL, cookies, hooks) as urllib3 spends sending it and reading the answer; an ACME client makes
seven calls per certificate to one host over one kept-alive connection and needs none of that.
Errors are raised as the `requests` exceptions callers already handle.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import certifi
import requests
import urllib3
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import exceptions as u3

_GET_RETRIES = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=5, raise_on_redirect=False)


class Transport:
    """A small pool of kept-alive HTTPS connections (a client is used by one thread at a time)."""

    def __init__(self, verify: bool | str) -> None:
        if verify is False:
            options: dict[str, Any] = {"cert_reqs": ssl.CERT_NONE, "assert_hostname": False}
        else:
            options = {"cert_reqs": ssl.CERT_REQUIRED,
                       "ca_certs": verify if isinstance(verify, str) else certifi.where()}
        self._pool = urllib3.PoolManager(num_pools=4, maxsize=2, **options)

    def request(self, method: str, url: str, *, data: bytes | str | None = None,
                headers: Mapping[str, str] | None = None, timeout: float | None = None) -> requests.Response:
        body = data.encode() if isinstance(data, str) else data
        with _as_requests_errors(url):
            raw = self._pool.request(method, url, body=body, headers=dict(headers or {}),
                                     timeout=urllib3.Timeout(connect=timeout, read=timeout),
                                     retries=_GET_RETRIES if method == "GET" else False, preload_content=True)
        return _response(raw, url)

    def close(self) -> None:
        self._pool.clear()


def _response(raw: urllib3.BaseHTTPResponse, url: str) -> requests.Response:
    response = requests.Response()
    response.status_code = raw.status
    response.headers = CaseInsensitiveDict(raw.headers)
    response._content = raw.data  # noqa: SLF001 - how requests itself fills a read response
    response.encoding = get_encoding_from_headers(response.headers)
    response.reason = raw.reason or ""
    response.url = raw.geturl() or url
    response.elapsed = timedelta(0)
    return response


@contextmanager
def _as_requests_errors(url: str) -> Iterator[None]:
    try:
        yield
    except u3.MaxRetryError as exc:  # GET, after its retries
        raise _mapped(exc.reason or exc, url) from exc
    except (u3.HTTPError, OSError) as exc:
        raise _mapped(exc, url) from exc


def _mapped(exc: BaseException, url: str) -> requests.exceptions.RequestException:
    """The exception requests' own adapter would raise (NewConnectionError subclasses ConnectTimeoutError)."""
    if isinstance(exc, u3.SSLError):
        return requests.exceptions.SSLError(f"{url}: {exc}")
    if isinstance(exc, u3.NewConnectionError):
        return requests.exceptions.ConnectionError(f"{url}: {exc}")
    if isinstance(exc, u3.ConnectTimeoutError):
        return requests.exceptions.ConnectTimeout(f"{url}: {exc}")
    if isinstance(exc, (u3.ReadTimeoutError, u3.TimeoutError, TimeoutError)):
        return requests.exceptions.ReadTimeout(f"{url}: {exc}")
    return requests.exceptions.ConnectionError(f"{url}: {exc}")  # refused, reset, protocol errors

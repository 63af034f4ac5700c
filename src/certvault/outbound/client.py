"""The shared HTTP client factory: every integration's outbound calls go through `client_for`.

One `OutboundClients` per process (the container makes it and hands it to plugins). Each client
is a plain `httpx.Client` (or `httpx.AsyncClient`) whose transport paces, retries, caps the
response and raises the typed errors of `errors.py`; the caller closes it (`with ... as client`).
Clients made for the same account key share one pacing bucket. Environment proxy variables are
ignored: the account's `proxy` is the only one used.
"""

from __future__ import annotations

from typing import TypedDict
from urllib.parse import urlsplit

import httpx

from certvault import __version__
from certvault.outbound.errors import OutboundError
from certvault.outbound.failures import peer
from certvault.outbound.identity import ClientIdentity
from certvault.outbound.options import ClientOptions
from certvault.outbound.pacing import Pacers, TokenBucket
from certvault.outbound.redact import install_log_redaction, redact_url
from certvault.outbound.transport import AsyncOutboundTransport, OutboundTransport
from certvault.outbound.trust import ssl_context

USER_AGENT = f"certvault/{__version__}"
ProxyAuth = tuple[str, str]


class _Settings(TypedDict):
    """What `httpx.Client` and `httpx.AsyncClient` get besides the transport."""

    base_url: str
    timeout: httpx.Timeout
    trust_env: bool
    follow_redirects: bool
    headers: dict[str, str]


class OutboundClients:
    def __init__(self, user_agent: str = USER_AGENT) -> None:
        self.user_agent = user_agent
        self._pacers = Pacers()
        install_log_redaction()

    def client_for(self, account_key: str, options: ClientOptions, identity: ClientIdentity | None = None,
                   *, proxy_auth: ProxyAuth | None = None) -> httpx.Client:
        inner = httpx.HTTPTransport(verify=ssl_context(options, identity), trust_env=False,
                                    proxy=_proxy(options, proxy_auth))
        transport = OutboundTransport(inner, options, self.bucket(account_key, options))
        return httpx.Client(transport=transport, **self._settings(options))

    def async_client_for(self, account_key: str, options: ClientOptions, identity: ClientIdentity | None = None,
                         *, proxy_auth: ProxyAuth | None = None) -> httpx.AsyncClient:
        inner = httpx.AsyncHTTPTransport(verify=ssl_context(options, identity), trust_env=False,
                                         proxy=_proxy(options, proxy_auth))
        transport = AsyncOutboundTransport(inner, options, self.bucket(account_key, options))
        return httpx.AsyncClient(transport=transport, **self._settings(options))

    def bucket(self, account_key: str, options: ClientOptions) -> TokenBucket | None:
        if options.pacing_requests is None:
            return None
        return self._pacers.bucket(account_key, options.pacing_requests, options.pacing_interval)

    def _settings(self, options: ClientOptions) -> _Settings:
        timeout = httpx.Timeout(connect=options.connect_timeout, read=options.read_timeout,
                                write=options.read_timeout, pool=options.connect_timeout)
        return _Settings(base_url=options.base_url or "", timeout=timeout, trust_env=False,
                         follow_redirects=options.follow_redirects,
                         headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip"})


def _proxy(options: ClientOptions, auth: ProxyAuth | None) -> httpx.Proxy | None:
    return httpx.Proxy(options.proxy, auth=auth) if options.proxy else None


def check_status(response: httpx.Response) -> httpx.Response:
    """The response when it is 2xx; otherwise OutboundError naming host, status and the redacted path
    (unlike httpx's `raise_for_status`, whose message holds the full URL with its query)."""
    if response.is_success:
        return response
    request = response.request
    parts = urlsplit(redact_url(request.url))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    raise OutboundError(f"{peer(request.url)} answered HTTP {response.status_code} to {request.method} {path}",
                        host=peer(request.url), status=response.status_code)

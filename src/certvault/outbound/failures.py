"""httpx's transport errors as the outbound client's one-line errors, naming the peer and the cause."""

from __future__ import annotations

import ssl

import httpx

from certvault.outbound.errors import OutboundError, OutboundTimeout, PinMismatch
from certvault.outbound.retries import caused_by
from certvault.outbound.trust import NotThePinnedServer

_TIMEOUTS = {
    httpx.ConnectTimeout: ("connect", "connect timeout: no TLS connection to {where} within {s} s"),
    httpx.ReadTimeout: ("read", "read timeout: {where} sent nothing for {s} s"),
    httpx.WriteTimeout: ("write", "write timeout: {where} took nothing for {s} s"),
    httpx.PoolTimeout: ("pool", "pool timeout: no free connection to {where} within {s} s"),
}
_HINTS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the server wants a client certificate",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the server refused the client certificate",
    "TLSV1_ALERT_UNKNOWN_CA": "the server does not trust the client certificate's CA",
}


def peer(url: httpx.URL) -> str:
    return f"{url.host}:{url.port}" if url.port else url.host


def failure(exc: httpx.TransportError, request: httpx.Request, attempts: int = 1) -> OutboundError:
    where = peer(request.url)
    tries = f" ({attempts} attempts)" if attempts > 1 else ""
    pin = caused_by(exc, NotThePinnedServer)
    if isinstance(pin, NotThePinnedServer):
        return PinMismatch(pin.describe(where) + tries, host=where)
    for kind, (phase, text) in _TIMEOUTS.items():
        if isinstance(exc, kind):
            seconds = request.extensions.get("timeout", {}).get(phase)
            return OutboundTimeout(text.format(where=where, s=f"{seconds:g}" if seconds else "?") + tries,
                                   host=where, phase=phase)
    return OutboundError(f"{request.method} to {where} failed: {reason(exc)}{tries}", host=where)


def reason(exc: BaseException) -> str:
    tls = caused_by(exc, ssl.SSLError)
    if isinstance(tls, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {tls.verify_message}"
    if isinstance(tls, ssl.SSLError) and tls.reason:
        hint = _HINTS.get(tls.reason)
        return tls.reason.lower().replace("_", " ") + (f" ({hint})" if hint else "")
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__

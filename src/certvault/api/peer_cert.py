"""Client certificates on the HTTPS listener, for the agent API (mutual TLS).

The listener asks every client for a certificate (CERT_OPTIONAL) and verifies one, when sent, against
the internal CA: browsers and API clients send none and are served as before; a certvault agent sends
its own. uvicorn does not put the peer certificate in the ASGI scope, so the HTTP protocol class is
wrapped to add the ASGI TLS extension (`scope["extensions"]["tls"]["client_cert_chain"]`, PEM), read
once per connection from the transport's ssl_object. Whether the certificate belongs to a live agent is
decided per call by the agents service, not here.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from cryptography.hazmat.primitives import serialization

from certvault.container import App


def client_ca_bundle(app: App) -> str:
    """The internal CA's issuing certificate and root (PEM), the trust anchors for client certificates."""
    with app.transaction() as svc:
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in svc.pki.chain())


def accept_client_certificates(context: ssl.SSLContext, ca_pem: str) -> ssl.SSLContext:
    context.verify_mode = ssl.CERT_OPTIONAL
    context.load_verify_locations(cadata=ca_pem)
    return context


def peer_certificate(scope: Any) -> bytes | None:
    """The verified client certificate (DER) of the request's connection, if it sent one."""
    chain = scope.get("extensions", {}).get("tls", {}).get("client_cert_chain") or []
    return ssl.PEM_cert_to_DER_cert(chain[0]) if chain else None


def with_peer_certificates(protocol: Any) -> Any:
    """uvicorn's `http=` setting (a protocol class or "h11"/"httptools") whose requests carry the TLS extension."""
    base: Any = protocol
    if protocol == "h11":
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol
    elif isinstance(protocol, str):
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = HttpToolsProtocol

    class PeerCertificateProtocol(base):
        """Both uvicorn protocols assign `self.scope` once per request: the setter adds the extension."""

        _peer: dict[str, Any] | None = None

        @property
        def scope(self) -> Any:
            return self._scope_with_tls

        @scope.setter
        def scope(self, value: Any) -> None:
            if isinstance(value, dict):
                value["extensions"] = {**value.get("extensions", {}), "tls": self._tls()}
            self._scope_with_tls = value

        def _tls(self) -> dict[str, Any]:
            if self._peer is None:
                self._peer = _tls_extension(self.transport)
            return self._peer

    return PeerCertificateProtocol


def _tls_extension(transport: asyncio.Transport | None) -> dict[str, Any]:
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return {"server_cert": None, "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
            "client_cert_name": None, "client_cert_error": None,
            "tls_version": None, "cipher_suite": None}

"""The TLS context of an account: which servers to trust, and the client certificate to show.

`system` verifies against the system store (certifi when the system has none), `ca_bundle`
against the account's own CAs; both check the host name. `pinned` accepts a server iff the
certificate it presents is one of the pinned ones (SHA-256 of the DER), whatever CA signed it:
the check runs inside the handshake, so nothing is sent to any other server. The context works
for httpx, and equally for smtplib or a raw socket (`context.wrap_socket`).
"""

from __future__ import annotations

import hashlib
import ssl
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

if TYPE_CHECKING:
    from certvault.outbound.identity import ClientIdentity
    from certvault.outbound.options import ClientOptions


class NotThePinnedServer(ssl.SSLCertVerificationError):
    """Raised inside the handshake (so a raw socket or smtplib sees a TLS error); the client makes it a
    PinMismatch."""

    def __init__(self, seen: str | None, pins: frozenset[str], host: str | None) -> None:
        self.seen, self.pins = seen, pins
        super().__init__(self.describe(host or "the server"))

    def describe(self, where: str) -> str:
        pinned = ", ".join(short(p) for p in sorted(self.pins))
        shown = f"certificate {short(self.seen)}" if self.seen else "no certificate"
        return f"{where} presented {shown}, not the pinned {pinned}"


def ssl_context(options: ClientOptions, identity: ClientIdentity | None = None) -> ssl.SSLContext:
    if options.trust == "pinned":
        assert options.pinned_certificate is not None  # the options model requires it
        context: ssl.SSLContext = pinned_context(options.pinned_certificate)
    elif options.trust == "ca_bundle":
        context = ssl.create_default_context(cadata=options.ca_bundle)
    else:
        context = system_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if identity is not None:
        identity.load_into(context)
    return context


def system_context() -> ssl.SSLContext:
    paths = ssl.get_default_verify_paths()
    if paths.cafile or paths.capath:
        return ssl.create_default_context()
    import certifi  # a system without a CA store (slim containers)

    return ssl.create_default_context(cafile=certifi.where())


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def short(fingerprint_hex: str) -> str:
    return f"sha256:{fingerprint_hex[:16]}…"


def check_pin(context: ssl.SSLContext, der: bytes | None, host: str | None) -> None:
    pins: frozenset[str] = getattr(context, "pins", frozenset())
    seen = fingerprint(der) if der else None
    if seen in pins:
        return
    raise NotThePinnedServer(seen, pins, host)


class _PinnedSocket(ssl.SSLSocket):
    def do_handshake(self, block: bool = False) -> None:
        super().do_handshake(block)
        check_pin(self.context, self.getpeercert(binary_form=True), self.server_hostname)


class _PinnedObject(ssl.SSLObject):
    def do_handshake(self) -> None:
        super().do_handshake()
        check_pin(self.context, self.getpeercert(binary_form=True), self.server_hostname)


class PinnedContext(ssl.SSLContext):
    """Verifies nothing by CA; the sockets and objects it makes compare the leaf with `pins`."""

    pins: frozenset[str]
    sslsocket_class = _PinnedSocket
    sslobject_class = _PinnedObject


def pinned_context(pem: str) -> PinnedContext:
    context = PinnedContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    certs = x509.load_pem_x509_certificates(pem.encode())
    context.pins = frozenset(fingerprint(c.public_bytes(Encoding.DER)) for c in certs)
    return context

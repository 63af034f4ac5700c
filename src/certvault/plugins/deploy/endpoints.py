"""Prove what a TLS endpoint serves: one handshake with SNI, the leaf's serial and the chain compared.

The check trusts nothing and verifies nothing: it compares the served certificates with the ones just
deployed, so a self-signed or private-CA deployment is checked the same way as a public one.
"""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certvault.plugins.protocols import CertificateBundle, VerificationFailed

MAX_ENDPOINT = 300


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    sni: str

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" + (f"/{self.sni}" if self.sni else "")


def parse(value: str) -> Endpoint:
    """HOST:PORT[/SNI], [v6]:PORT[/SNI] or HOST (port 443); SNI defaults to HOST when it is a name."""
    text = value.strip()
    if not text or len(text) > MAX_ENDPOINT:
        raise ValueError("give HOST:PORT[/SNI]")
    where, _, sni = text.partition("/")
    if where.startswith("["):
        host, _, rest = where[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else "443"
    else:
        host, _, port_text = where.partition(":")
        port_text = port_text or "443"
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{value!r} is not HOST:PORT[/SNI]")
    if not sni and not _is_ip(host):
        sni = host
    return Endpoint(host, int(port_text), sni)


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


def check_list(values: list[str]) -> list[str]:
    for value in values:
        parse(value)
    return values


def served_chain(endpoint: Endpoint, timeout: float = 10.0) -> list[x509.Certificate]:
    """The certificates the endpoint presents (leaf first)."""
    from OpenSSL import SSL

    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_verify(SSL.VERIFY_NONE, lambda *_: True)
    try:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except OSError as exc:
        raise VerificationFailed(f"{endpoint}: cannot connect ({exc.strerror or exc})") from None
    try:
        conn = SSL.Connection(context, sock)
        if endpoint.sni:
            conn.set_tlsext_host_name(endpoint.sni.encode("idna"))
        conn.set_connect_state()
        _handshake(conn, sock, time.monotonic() + timeout)
        chain = conn.get_peer_cert_chain(as_cryptography=True) or []
    except (SSL.Error, OSError) as exc:
        raise VerificationFailed(f"{endpoint}: TLS handshake failed ({type(exc).__name__})") from None
    finally:
        sock.close()
    if not chain:
        raise VerificationFailed(f"{endpoint}: no certificate was presented")
    return list(chain)


def _handshake(conn: Any, sock: socket.socket, deadline: float) -> None:
    """The socket has a timeout, so OpenSSL sees it non-blocking: wait for it until the deadline."""
    from OpenSSL import SSL

    while True:
        try:
            conn.do_handshake()
            return
        except (SSL.WantReadError, SSL.WantWriteError):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no TLS handshake within the timeout") from None
            select.select([sock], [], [], min(remaining, 1.0))


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def same_serial(a: str, b: str) -> bool:
    return a.lower().replace(":", "").lstrip("0") == b.lower().replace(":", "").lstrip("0")


def verify(bundle: CertificateBundle, values: list[str], timeout: float = 10.0) -> str:
    """Check every endpoint serves `bundle`'s leaf and chain; a description of what was proved."""
    if not values:
        return "no endpoint to verify"
    wanted = [c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(bundle.fullchain_pem)]
    for value in values:
        endpoint = parse(value)
        chain = served_chain(endpoint, timeout)
        served = serial_hex(chain[0])
        if not same_serial(served, bundle.serial):
            raise VerificationFailed(f"{endpoint} serves serial {served}, not the deployed {bundle.serial}",
                                     served_serial=served)
        got = [c.public_bytes(Encoding.DER) for c in chain]
        if got[:len(wanted)] != wanted:
            raise VerificationFailed(f"{endpoint} serves the deployed leaf with another chain "
                                     f"({len(got) - 1} CA certificates, {len(wanted) - 1} deployed)",
                                     served_serial=served)
    return f"{len(values)} endpoint(s) serve serial {bundle.serial}"



def verify_until(bundle: CertificateBundle, values: list[str], timeout: float, interval: float = 0.2) -> str:
    """verify(), again until `timeout` seconds passed: a reloading server takes a moment to serve the new files."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return verify(bundle, values, min(10.0, timeout))
        except VerificationFailed:
            if time.monotonic() >= deadline:
                raise
            time.sleep(interval)

"""Fetch the certificate chain that TLS servers present (any TLS version, 1.3 included).

Targets are host[:port], IP[:port], [IPv6]:port, CIDR ranges and port lists. Every connection
has a deadline and the number of parallel connections is bounded.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL

from certvault.crypto.names import is_ip_address
from certvault.errors import InvalidInput

MAX_TARGETS = 65_536
MAX_CONCURRENCY = 256


@dataclass(frozen=True)
class Target:
    host: str | None  # the name given (None for a bare IP or a CIDR member)
    address: str  # what to connect to: the host name or the IP
    port: int
    sni: str | None


@dataclass
class Fetched:
    target: Target
    ip: str | None = None
    chain_pem: bytes | None = None
    error: str | None = None


def _split_host_port(spec: str, default_port: int | None) -> tuple[str, int | None]:
    spec = spec.strip()
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    if spec.count(":") == 1:
        host, port = spec.split(":")
        return host, int(port)
    return spec, default_port


def parse_ports(text: str | Iterable[int]) -> list[int]:
    values = [int(p) for p in text.replace(",", " ").split()] if isinstance(text, str) else [int(p) for p in text]
    for port in values:
        if not 0 < port < 65536:
            raise InvalidInput(f"port {port} is out of range (1-65535)")
    return list(dict.fromkeys(values)) or [443]


def expand(specs: Iterable[str], cidrs: Iterable[str], ports: list[int], sni: str | None) -> list[Target]:
    """Every (address, port) to contact. A port in a spec wins over the port list."""
    targets: list[Target] = []
    for raw in specs:
        if not raw.strip() or raw.strip().startswith("#"):
            continue
        try:
            host, port = _split_host_port(raw, None)
        except ValueError:
            raise InvalidInput(f"target {raw!r} is not host[:port]") from None
        if not host or any(ch.isspace() for ch in host):
            raise InvalidInput(f"target {raw!r} is not host[:port]")
        is_ip = is_ip_address(host)
        for p in parse_ports([port]) if port else ports:
            targets.append(Target(None if is_ip else host, host, p, sni or (None if is_ip else host)))
        _check_size(targets)
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(cidr.strip(), strict=False)
        except ValueError:
            raise InvalidInput(f"{cidr!r} is not a CIDR range such as 10.0.0.0/28") from None
        if network.num_addresses * len(ports) + len(targets) > MAX_TARGETS:
            raise InvalidInput(f"{cidr} with {len(ports)} port(s) is more than {MAX_TARGETS} targets; split it")
        hosts = [network.network_address] if network.num_addresses == 1 else list(network.hosts())
        targets.extend(Target(None, str(ip), p, sni) for ip in hosts for p in ports)
    return targets


def _check_size(targets: list[Target]) -> None:
    if len(targets) > MAX_TARGETS:
        raise InvalidInput(f"more than {MAX_TARGETS} targets; split the list")


def fetch(target: Target, timeout: float = 5.0) -> Fetched:
    """Connect, complete a handshake (no verification: we want what is served), return the chain."""
    result = Fetched(target)
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((target.address, target.port), timeout=timeout)
    except OSError as exc:
        result.error = f"cannot connect to {target.address}:{target.port}: {exc.strerror or exc}"
        return result
    try:
        result.ip = str(sock.getpeername()[0])
        chain = _handshake(sock, target.sni, deadline)
        if not chain:
            result.error = "the server sent no certificate"
        else:
            result.chain_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    except (SSL.Error, OSError, TimeoutError) as exc:
        result.error = f"TLS handshake with {target.address}:{target.port} failed: {_describe(exc)}"
    finally:
        sock.close()
    return result


def _describe(exc: Exception) -> str:
    if isinstance(exc, SSL.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
        return str(exc.args[0][0][-1])
    return str(exc) or type(exc).__name__


def _context() -> SSL.Context:
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_verify(SSL.VERIFY_NONE)
    # Inventory must see what old servers serve too, so accept legacy protocols and ciphers.
    context.set_min_proto_version(SSL.TLS1_VERSION)
    context.set_cipher_list(b"ALL:@SECLEVEL=0")
    return context


def _handshake(sock: socket.socket, sni: str | None, deadline: float) -> list:
    sock.setblocking(False)
    conn = SSL.Connection(_context(), sock)
    if sni and not is_ip_address(sni):
        conn.set_tlsext_host_name(sni.encode("idna"))
    conn.set_connect_state()
    try:
        _drive_handshake(conn, sock, deadline)
    except SSL.Error:
        # A server that demands a client certificate aborts after sending its own: keep what it sent.
        sent = conn.get_peer_cert_chain(as_cryptography=True)
        if not sent:
            raise
        return list(sent)
    chain = conn.get_peer_cert_chain(as_cryptography=True) or []
    try:
        conn.shutdown()
    except SSL.Error:
        pass
    return list(chain)


def _drive_handshake(conn: SSL.Connection, sock: socket.socket, deadline: float) -> None:
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out")
        try:
            conn.do_handshake()
            return
        except SSL.WantReadError:
            select.select([sock], [], [], remaining)
        except SSL.WantWriteError:
            select.select([], [sock], [], remaining)


def fetch_all(targets: list[Target], *, timeout: float = 5.0, concurrency: int = 64) -> list[Fetched]:
    workers = max(1, min(concurrency, MAX_CONCURRENCY, len(targets) or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="discover") as pool:
        return list(pool.map(lambda t: fetch(t, timeout), targets))

"""Is a challenge response really visible? TXT at the authoritative servers; GET for http-01."""

from __future__ import annotations

import socket

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver

from certvault.crypto.names import is_ip_address
from certvault.plugins.protocols import NameServer

TIMEOUT = 5.0


def parse_servers(values: list[str] | None) -> list[NameServer]:
    from certvault.plugins.dns.rfc2136 import parse_server

    return [parse_server(v) for v in values or []]


def _query(name: str, rdtype: dns.rdatatype.RdataType, server: NameServer, recursive: bool) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    if not recursive:
        query.flags &= ~dns.flags.RD
    host = server.host if is_ip_address(server.host) else socket.gethostbyname(server.host)
    response = dns.query.udp(query, host, timeout=TIMEOUT, port=server.port)
    if response.flags & dns.flags.TC:
        response = dns.query.tcp(query, host, timeout=TIMEOUT, port=server.port)
    return response


def authoritative_servers(fqdn: str, resolvers: list[NameServer]) -> list[NameServer]:
    """The NS of the zone holding `fqdn`, found through the configured (or system) resolvers."""
    resolver = dns.resolver.Resolver(configure=not resolvers)
    if resolvers:
        resolver.nameservers = [r.host for r in resolvers]
        resolver.port = resolvers[0].port
    resolver.lifetime = TIMEOUT
    zone = dns.resolver.zone_for_name(fqdn, resolver=resolver)
    answer = resolver.resolve(zone, "NS")
    servers = []
    for rdata in answer:
        for address in resolver.resolve(rdata.target, "A"):
            servers.append(NameServer(address.to_text(), 53))
    return servers


def follow_cname(fqdn: str, resolvers: list[NameServer], limit: int = 8) -> str:
    """Where a record at `fqdn` really lives: the end of the CNAME chain on it (delegated validation,
    e.g. `_acme-challenge.example.com CNAME x.auth.acme-dns.io`), or `fqdn` itself."""
    name = fqdn.rstrip(".").lower()
    for _ in range(limit):
        target = _cname_of(name, resolvers)
        if target is None or target == name:
            return name
        name = target
    raise dns.exception.DNSException(f"the CNAME chain from {fqdn} is longer than {limit}")


def _cname_of(name: str, resolvers: list[NameServer]) -> str | None:
    if resolvers:
        response = _query(name, dns.rdatatype.CNAME, resolvers[0], recursive=True)
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.CNAME and rrset.name == dns.name.from_text(name):
                return str(rrset[0].target.to_text(omit_final_dot=True)).lower()
        return None
    resolver = dns.resolver.Resolver()
    resolver.lifetime = TIMEOUT
    try:
        answer = resolver.resolve(name, "CNAME")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None
    return str(answer[0].target.to_text(omit_final_dot=True)).lower()


def txt_visible(fqdn: str, value: str, servers: list[NameServer]) -> tuple[bool, str]:
    """(True, '') when every server answers the value; else (False, what was seen where)."""
    for server in servers:
        try:
            response = _query(fqdn, dns.rdatatype.TXT, server, recursive=False)
        except (dns.exception.DNSException, OSError) as exc:
            return False, f"{server} did not answer for {fqdn} ({type(exc).__name__})"
        if response.rcode() != dns.rcode.NOERROR:
            return False, f"{server} answered {dns.rcode.to_text(response.rcode())} for {fqdn}"
        values = {b"".join(r.strings).decode(errors="replace") for rrset in response.answer
                  if rrset.rdtype == dns.rdatatype.TXT for r in rrset}
        if value not in values:
            return False, f"{server} does not yet serve the TXT value at {fqdn}"
    return True, ""


def http01_visible(identifier: str, port: int, token: str, expected: str,
                   resolvers: list[NameServer]) -> tuple[bool, str]:
    """GET http://<name>:<port>/.well-known/acme-challenge/<token> the way the CA will."""
    import httpx  # with its command-line part (click, pygments): 30 ms that a dns-01 order does not need

    try:
        addresses = [identifier] if is_ip_address(identifier) else _resolve(identifier, resolvers)
    except (dns.exception.DNSException, OSError) as exc:
        return False, f"{identifier} does not resolve ({type(exc).__name__})"
    for address in addresses[:2]:
        host = f"[{address}]" if ":" in address else address
        url = f"http://{host}:{port}/.well-known/acme-challenge/{token}"
        try:
            response = httpx.get(url, headers={"Host": identifier}, timeout=TIMEOUT, follow_redirects=True)
        except httpx.HTTPError as exc:
            return False, f"GET {url} failed ({type(exc).__name__})"
        if response.status_code != 200 or response.text.strip() != expected:
            return False, f"GET {url} answered {response.status_code} without the expected content"
    return True, ""


def _resolve(name: str, resolvers: list[NameServer]) -> list[str]:
    if not resolvers:
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)})
    found: list[str] = []
    for rdtype in (dns.rdatatype.AAAA, dns.rdatatype.A):
        response = _query(name, rdtype, resolvers[0], recursive=True)
        found += [r.to_text() for rrset in response.answer if rrset.rdtype == rdtype for r in rrset]
    if not found:
        raise dns.resolver.NXDOMAIN()
    return found

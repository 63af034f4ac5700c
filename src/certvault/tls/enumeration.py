"""Protocol support and accepted cipher suites by elimination (offer a bundle, remove the pick, repeat).

One chain of sequential probes per protocol; the first probe of each chain doubles as the protocol
check, so a protocol that is off costs one connection and one that is on costs (accepted + bundles).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from certvault.tls.ciphers import VERSION_CODES, CipherSuite, lookup, suites_for
from certvault.tls.hello import HelloOptions, client_hello, sslv2_client_hello
from certvault.tls.keyexchange import KeyExchange, key_exchange_of, until_key_exchange
from certvault.tls.probe import Connector, ProbeError, until_server_hello
from certvault.tls.records import ServerFlight, ServerHello, TLSParseError, parse_sslv2_server_hello

BUNDLE_SIZE = 128  # some servers fail on hellos with >= 128 suites (testssl's limit)
DEFINITE_NO = frozenset({70})  # protocol_version: the version is off, no other bundle will help


@dataclass
class ProtocolResult:
    protocol: str
    supported: bool = False
    accepted: list[CipherSuite] = field(default_factory=list)
    server_order: bool | None = None
    first_hello: ServerHello | None = None
    compression_offered_back: bool = False
    key_exchanges: list[KeyExchange] = field(default_factory=list)  # distinct ephemeral parameters seen
    error: str | None = None


def _accepted(flight: ServerFlight, protocol: str, offered: set[int]) -> int | None:
    hello = flight.server_hello
    if hello is None or hello.negotiated_version != VERSION_CODES[protocol]:
        return None
    return hello.cipher if hello.cipher in offered else None


async def enumerate_protocol(conn: Connector, protocol: str, sni: str | None) -> ProtocolResult:
    """Every suite the server accepts for this protocol, in the order the server picked them."""
    if protocol == "SSLv2":
        return await _enumerate_sslv2(conn)
    result = ProtocolResult(protocol)
    candidates = [s.code for s in suites_for(protocol)]
    # compression offered on <= 1.2 so the same probes answer the CRIME question
    opts = HelloOptions(sni=sni, compression=protocol != "TLSv1.3")
    try:
        while candidates:
            bundle = candidates[:BUNDLE_SIZE]
            # a DHE/ECDHE pick is read on to its ServerKeyExchange (same flight): the parameters cost no connection
            flight = await conn.exchange(client_hello(protocol, bundle, opts), until_key_exchange)
            picked = _accepted(flight, protocol, set(bundle))
            if picked is None:
                if flight.alert is not None and flight.alert[1] in DEFINITE_NO and not result.supported:
                    break
                candidates = candidates[BUNDLE_SIZE:]
                continue
            if not result.supported:
                result.supported, result.first_hello = True, flight.server_hello
            if flight.server_hello is not None and flight.server_hello.compression != 0:
                result.compression_offered_back = True
            result.accepted.append(lookup(picked))
            kex = key_exchange_of(flight)
            if kex is not None and kex not in result.key_exchanges:
                result.key_exchanges.append(kex)
            candidates.remove(picked)
        if len(result.accepted) >= 2 and protocol != "TLSv1.3":  # TLS 1.3 order is not reported: save a handshake
            result.server_order = await _server_enforces_order(conn, protocol, sni, result.accepted)
    except (ProbeError, TLSParseError) as exc:
        result.error = f"{protocol}: {exc}"
    return result


async def _server_enforces_order(conn: Connector, protocol: str, sni: str | None,
                                 accepted: list[CipherSuite]) -> bool | None:
    """Offer the picks reversed: a server with its own order still picks its favourite first."""
    reversed_codes = [s.code for s in reversed(accepted)][:BUNDLE_SIZE]
    flight = await conn.exchange(client_hello(protocol, reversed_codes, HelloOptions(sni=sni)), until_server_hello)
    picked = _accepted(flight, protocol, set(reversed_codes))
    if picked is None:
        return None
    return picked == accepted[0].code


async def _enumerate_sslv2(conn: Connector) -> ProtocolResult:
    result = ProtocolResult("SSLv2")
    specs = [s.code for s in suites_for("SSLv2")]

    def parse(data: bytes) -> object | None:
        try:
            return parse_sslv2_server_hello(data)
        except TLSParseError:
            return False  # a TLS alert or garbage: SSLv2 is off

    try:
        hello = await conn.raw_exchange(sslv2_client_hello(specs), parse)
    except ProbeError as exc:
        result.error = f"SSLv2: {exc}"
        return result
    if hello:
        result.supported = True
        result.accepted = [lookup(code, sslv2=True) for code in hello.cipher_specs]  # type: ignore[attr-defined]
    return result

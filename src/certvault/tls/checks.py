"""Vulnerability checks. Each verdict rests on its own evidence; probes reuse what enumeration learnt
(which versions and suites work) only to build a hello the server will answer.

Verdicts: "vulnerable" | "not_vulnerable" | "not_applicable" | "error".
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from typing import Any

from certvault.tls.ciphers import VERSION_CODES, CipherSuite, suites_for
from certvault.tls.enumeration import ProtocolResult
from certvault.tls.handshake import FullHandshake, HandshakeFailed, client_renegotiation_accepted
from certvault.tls.hello import EXT_HEARTBEAT, EXT_RENEGOTIATION_INFO, HelloOptions, client_hello
from certvault.tls.probe import Connector, ProbeError, read_flight, until_hello_done
from certvault.tls.records import CONTENT_HEARTBEAT, ServerFlight
from certvault.tls.robot import RobotInconclusive, robot_verdict

VULN, SAFE, NA, ERROR = "vulnerable", "not_vulnerable", "not_applicable", "error"
PRE_TLS13 = ("TLSv1.2", "TLSv1.1", "TLSv1.0", "SSLv3")
LEGACY_ORDER = ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")


@dataclass
class CheckResults:
    verdicts: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def best_legacy(by_name: dict[str, ProtocolResult]) -> ProtocolResult | None:
    """The highest supported protocol below TLS 1.3 (renegotiation, Heartbleed, CCS live there)."""
    return next((by_name[p] for p in PRE_TLS13 if by_name[p].supported), None)


def _any_suite(by_name: dict[str, ProtocolResult], test: str) -> bool:
    return any(getattr(s, test) for p in by_name.values() if p.supported for s in p.accepted)


def derived_verdicts(by_name: dict[str, ProtocolResult]) -> dict[str, str]:
    """Verdicts that follow from enumeration alone (0 extra connections)."""
    ssl3 = by_name["SSLv3"]
    legacy = best_legacy(by_name)
    verdicts = {
        "poodle_ssl": VULN if ssl3.supported and any(s.cbc for s in ssl3.accepted) else SAFE,
        "sweet32": VULN if _any_suite(by_name, "block_64") else SAFE,
        "rc4": VULN if _any_suite(by_name, "rc4") else SAFE,
        "null_ciphers": VULN if _any_suite(by_name, "null") else SAFE,
        "anonymous_ciphers": VULN if _any_suite(by_name, "anonymous") else SAFE,
        "export_ciphers": VULN if _any_suite(by_name, "export") else SAFE,
        "compression": VULN if any(p.compression_offered_back for p in by_name.values()) else SAFE,
    }
    if legacy is None or legacy.first_hello is None:
        verdicts["insecure_renegotiation"] = NA
    else:
        secure = EXT_RENEGOTIATION_INFO in legacy.first_hello.extensions
        verdicts["insecure_renegotiation"] = SAFE if secure else VULN
    return verdicts


def _legacy_hello(by_name: dict[str, ProtocolResult], sni: str | None, **flags: Any) -> tuple[str, bytes]:
    """A hello at the best pre-1.3 version offering suites known to work (TLS 1.2 + all when none do)."""
    legacy = best_legacy(by_name)
    protocol = legacy.protocol if legacy else "TLSv1.2"
    codes = [s.code for s in legacy.accepted] if legacy else [s.code for s in suites_for("TLSv1.2")[:127]]
    return protocol, client_hello(protocol, codes, HelloOptions(sni=sni, **flags))


def _record(content: int, version: int, payload: bytes) -> bytes:
    return struct.pack("!BHH", content, version, len(payload)) + payload


async def _after_hello_done(conn: Connector, hello: bytes, follow_up: bytes | None,
                            wait: float) -> tuple[ServerFlight, ServerFlight | None]:
    """Handshake up to ServerHelloDone, then send `follow_up` and collect whatever comes back."""
    async with conn.open() as (reader, writer):
        writer.write(hello)
        first = await read_flight(reader, until_hello_done, conn.endpoint.timeout)
        if follow_up is None or not first.hello_done or first.alert is not None:
            return first, None
        writer.write(follow_up)
        second = await read_flight(reader, lambda f: bool(f.record_types), wait)
        return first, second


async def check_heartbleed(conn: Connector, by_name: dict[str, ProtocolResult], sni: str | None) -> str:
    """testssl's probe: a heartbeat request claiming 16 KiB with an empty payload; any echo is a leak."""
    protocol, hello = _legacy_hello(by_name, sni, heartbeat=True)
    version = VERSION_CODES[protocol]
    heartbeat = _record(CONTENT_HEARTBEAT, version, b"\x01\x40\x00")
    async with conn.open() as (reader, writer):
        writer.write(hello)
        first = await read_flight(reader, until_hello_done, conn.endpoint.timeout)
        if first.server_hello is None or EXT_HEARTBEAT not in first.server_hello.extensions:
            return SAFE  # no heartbeat extension, nothing to bleed
        if not first.hello_done:
            return SAFE
        writer.write(heartbeat)
        second = await read_flight(reader, lambda f: len(f.heartbeat_reply) > 3,
                                   min(conn.endpoint.timeout, 3.0))
    return VULN if len(second.heartbeat_reply) > 3 else SAFE


async def check_ccs_injection(conn: Connector, by_name: dict[str, ProtocolResult], sni: str | None) -> str:
    """CVE-2014-0224: an early ChangeCipherSpec is accepted if the next record fails with bad_record_mac."""
    protocol, hello = _legacy_hello(by_name, sni)
    version = VERSION_CODES[protocol]
    ccs = _record(20, version, b"\x01")
    fake_finished = _record(22, version, bytes(range(32)))
    first, second = await _after_hello_done(conn, hello, ccs + fake_finished, min(conn.endpoint.timeout, 3.0))
    if second is None:
        return SAFE if first.server_hello is None else SAFE
    return VULN if second.alert is not None and second.alert[1] == 20 else SAFE


def _fallback_pair(by_name: dict[str, ProtocolResult]) -> tuple[str, str] | None:
    supported = [p for p in LEGACY_ORDER if by_name[p].supported]
    if len(supported) < 2:
        return None
    return supported[-1], supported[-2]


async def check_fallback_scsv(conn: Connector, by_name: dict[str, ProtocolResult], sni: str | None) -> str:
    """Hello one version below the highest, with TLS_FALLBACK_SCSV: a ServerHello means no downgrade guard."""
    pair = _fallback_pair(by_name)
    if pair is None:
        return NA
    _highest, lower = pair
    codes = [s.code for s in by_name[lower].accepted] or [s.code for s in suites_for(lower)[:127]]
    flight = await conn.exchange(client_hello(lower, codes, HelloOptions(sni=sni, fallback_scsv=True)),
                                 lambda f: f.server_hello is not None)
    if flight.alert is not None and flight.alert[1] == 86:
        return SAFE
    if flight.server_hello is not None:
        return VULN
    return SAFE  # refused some other way: the downgrade did not happen


async def check_client_renegotiation(conn: Connector, by_name: dict[str, ProtocolResult], sni: str | None) -> str:
    legacy = best_legacy(by_name)
    if legacy is None:
        return NA
    if legacy.protocol == "SSLv3":
        raise HandshakeFailed("OpenSSL here cannot speak SSLv3 to test renegotiation")
    accepted = await client_renegotiation_accepted(conn, sni, VERSION_CODES[legacy.protocol])
    return VULN if accepted else SAFE


def rsa_suites(by_name: dict[str, ProtocolResult]) -> tuple[str, list[CipherSuite]] | None:
    legacy = best_legacy(by_name)
    for proto in ([legacy] if legacy else []) + [by_name[p] for p in PRE_TLS13]:
        rsa = [s for s in proto.accepted if s.rsa_kx and not s.export]
        if proto.supported and rsa:
            return proto.protocol, rsa
    return None


async def check_robot(conn: Connector, by_name: dict[str, ProtocolResult], sni: str | None) -> str:
    found = rsa_suites(by_name)
    if found is None:
        return SAFE  # no RSA key transport: no oracle
    return await robot_verdict(conn, found[0], found[1], sni)


PROBES = {
    "heartbleed": check_heartbleed,
    "ccs_injection": check_ccs_injection,
    "no_fallback_scsv": check_fallback_scsv,
    "client_renegotiation": check_client_renegotiation,
    "robot": check_robot,
}


async def _guarded(name: str, conn: Connector, by_name: dict[str, ProtocolResult], sni: str | None,
                   results: CheckResults) -> None:
    try:
        results.verdicts[name] = await PROBES[name](conn, by_name, sni)
    except (TimeoutError, ProbeError, HandshakeFailed, RobotInconclusive, ConnectionError) as exc:
        results.verdicts[name] = ERROR
        results.errors.append(f"{name}: {exc}")


async def run_all(conn: Connector, sni: str | None, by_name: dict[str, ProtocolResult]) -> CheckResults:
    results = CheckResults(verdicts=derived_verdicts(by_name))
    await asyncio.gather(*(_guarded(name, conn, by_name, sni, results) for name in PROBES))
    return results


async def chain_from_raw_probe(conn: Connector, sni: str | None, by_name: dict[str, ProtocolResult],
                               previous: FullHandshake) -> FullHandshake:
    """When OpenSSL cannot finish a handshake (SSLv3-only, client auth): read the clear-text TLS <= 1.2 flight."""
    legacy = best_legacy(by_name)
    if legacy is None:
        return previous
    codes = [s.code for s in legacy.accepted]
    hello = client_hello(legacy.protocol, codes, HelloOptions(sni=sni, status_request=True))
    try:
        flight = await conn.exchange(hello, until_hello_done)
    except ProbeError as exc:
        previous.error = f"{previous.error}; certificate probe: {exc}" if previous.error else str(exc)
        return previous
    if flight.certificates:
        return FullHandshake(chain_der=flight.certificates, ocsp_staple=flight.ocsp_staple,
                             protocol=legacy.protocol, http_head=previous.http_head, error=previous.error)
    return previous

"""The scanning engine's entry points: resolve targets, scan one endpoint, scan many with bounded concurrency.

`scan_target` never raises for network problems: an unreachable or odd endpoint gives a result whose
`errors` list says what went wrong. The result is plain JSON (the contract in issue 5, fields only added).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from certvault.crypto.names import is_ip_address
from certvault.tls import checks
from certvault.tls.certs import analyse_chain, chain_to_pem, load_anchors, utcnow
from certvault.tls.ciphers import PROTOCOLS, cipher_entry
from certvault.tls.enumeration import ProtocolResult, enumerate_protocol
from certvault.tls.grading import grade
from certvault.tls.handshake import FullHandshake, fetch_chain_and_headers
from certvault.tls.hsts import NON_HTTP_TLS_PORTS, parse_hsts
from certvault.tls.keyexchange import NO_KEY_EXCHANGE, weakest
from certvault.tls.probe import Connector, Endpoint, RateLimiter
from certvault.tls.revocation import RevocationChecker
from certvault.tls.starttls import choose_protocol

VULNERABILITY_NAMES = ("heartbleed", "ccs_injection", "poodle_ssl", "robot", "insecure_renegotiation",
                       "client_renegotiation", "compression", "no_fallback_scsv", "sweet32", "rc4", "null_ciphers",
                       "anonymous_ciphers", "export_ciphers")


@dataclass(frozen=True)
class ScanTarget:
    host: str                 # DNS name or IP literal as the user gave it
    ip: str                   # the address to connect to
    port: int
    sni: str | None = None    # SNI to send (default: host when it is a name)
    starttls: str | None = None  # smtp|imap|pop3|ftp|ldap|postgres|None (by port)|"none" (plain TLS)


@dataclass(frozen=True)
class ScanOptions:
    ca_file: str | None = None          # extra trust anchors (PEM); system store otherwise
    timeout: float = 5.0
    expiry_warning_days: int = 30
    check_revocation: bool = True
    check_hsts: bool = True
    per_host_connections: int = 5       # <= 5 in flight per host
    rate_per_ip: float | None = None    # new connections per second per IP


def effective_sni(target: ScanTarget) -> str | None:
    if target.sni:
        return target.sni
    return None if is_ip_address(target.host) else target.host


async def resolve_targets(host: str, port: int, sni: str | None = None,
                          starttls: str | None = None) -> list[ScanTarget]:
    """One target per A and AAAA address of `host` (an IP literal gives itself)."""
    if is_ip_address(host):
        return [ScanTarget(host, str(ipaddress.ip_address(host)), port, sni, starttls)]
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), 10.0)
    except (TimeoutError, OSError) as exc:
        raise LookupError(f"cannot resolve {host!r}: {exc}") from exc
    addresses = sorted({str(info[4][0]) for info in infos}, key=lambda a: (":" in a, a))
    return [ScanTarget(host, address, port, sni, starttls) for address in addresses]


def empty_result(target: ScanTarget) -> dict[str, Any]:
    return {
        "target": {"host": target.host, "ip": target.ip, "port": target.port, "sni": effective_sni(target),
                   "starttls": None},
        "reachable": False,
        "protocols": dict.fromkeys(PROTOCOLS, False),
        "ciphers": {},
        "server_cipher_order": None,
        "vulnerabilities": dict.fromkeys(VULNERABILITY_NAMES, "error"),
        "weak_ciphers": [],
        "key_exchange": dict(NO_KEY_EXCHANGE),
        "certificate": None,
        "chain_pem": [],
        "hsts": {"present": False, "max_age": None, "include_subdomains": False, "preload": False,
                 "checked": False},
        "grade": "-",
        "grade_reasons": [],
        "connections": 0,
        "duration_ms": 0,
        "errors": [],
    }


class _Limiters:
    """Per-IP token buckets shared by every scan in this process (several names often share one IP)."""

    def __init__(self) -> None:
        self._by_ip: dict[tuple[int, str, float], RateLimiter] = {}

    def get(self, ip: str, rate: float | None) -> RateLimiter | None:
        if not rate:
            return None
        key = (id(asyncio.get_running_loop()), ip, rate)  # asyncio locks belong to one event loop
        if key not in self._by_ip:
            self._by_ip[key] = RateLimiter(rate)
        return self._by_ip[key]


_LIMITERS = _Limiters()


async def scan_target(target: ScanTarget, options: ScanOptions = ScanOptions()) -> dict[str, Any]:
    """The full default scan of one endpoint; never raises for network problems."""
    started = time.perf_counter()
    result = empty_result(target)
    try:
        dialect = choose_protocol(target.starttls, target.port)
    except ValueError as exc:
        result["errors"].append(str(exc))
        return result
    result["target"]["starttls"] = dialect
    conn = Connector(Endpoint(target.ip, target.port, dialect, options.timeout), max(1, options.per_host_connections),
                     _LIMITERS.get(target.ip, options.rate_per_ip))
    try:
        await _scan(conn, target, options, result)
    except Exception as exc:  # noqa: BLE001 - the contract: a result with errors, never a crash
        result["errors"].append(f"internal error: {exc.__class__.__name__}: {exc}")
    result["connections"] = conn.connections
    result["duration_ms"] = int((time.perf_counter() - started) * 1000)
    return result


async def _scan(conn: Connector, target: ScanTarget, options: ScanOptions, result: dict[str, Any]) -> None:
    sni = effective_sni(target)
    http_host = (sni or target.ip) if _wants_http(conn.endpoint, options) else None
    handshake_task = asyncio.create_task(fetch_chain_and_headers(conn, sni, http_host))
    protocols = await asyncio.gather(*(enumerate_protocol(conn, p, sni) for p in PROTOCOLS))
    by_name = {p.protocol: p for p in protocols}
    if not any(p.supported for p in protocols) and all(p.error for p in protocols if p.protocol != "SSLv2"):
        handshake_task.cancel()
        result["errors"].append(_first_error(protocols) or "unreachable")
        return
    result["reachable"] = True
    _fill_protocols(result, protocols)
    vulns_task = asyncio.create_task(checks.run_all(conn, sni, by_name))
    handshake = await handshake_task
    if not handshake.chain_der:
        handshake = await checks.chain_from_raw_probe(conn, sni, by_name, handshake)
    vulns = await vulns_task
    result["vulnerabilities"].update(vulns.verdicts)
    result["errors"].extend(vulns.errors)
    await _fill_certificate(result, handshake, sni or target.ip, options)
    if http_host is not None:
        result["hsts"] = {**parse_hsts(handshake.http_head), "checked": handshake.http_head is not None}
    grade_value, reasons = grade(result)
    result["grade"], result["grade_reasons"] = grade_value, reasons


def _wants_http(endpoint: Endpoint, options: ScanOptions) -> bool:
    return options.check_hsts and endpoint.starttls is None and endpoint.port not in NON_HTTP_TLS_PORTS


def _first_error(protocols: Iterable[ProtocolResult]) -> str | None:
    return next((p.error for p in protocols if p.error), None)


def _fill_protocols(result: dict[str, Any], protocols: list[ProtocolResult]) -> None:
    weak: dict[str, dict[str, Any]] = {}
    for proto in protocols:
        result["protocols"][proto.protocol] = proto.supported
        if proto.error and not proto.supported:
            result["errors"].append(proto.error)
        if not proto.supported:
            continue
        entries = [cipher_entry(s) for s in proto.accepted]
        result["ciphers"][proto.protocol] = entries
        for entry in entries:
            if entry["weak"]:
                weak.setdefault(str(entry["name"]), {"name": entry["name"], "code": entry["code"],
                                                     "reasons": entry["reasons"], "protocols": []})
                weak[str(entry["name"])]["protocols"].append(proto.protocol)
    result["weak_ciphers"] = list(weak.values())
    kex = weakest([k for proto in protocols for k in proto.key_exchanges])
    result["key_exchange"] = kex.as_dict() if kex else dict(NO_KEY_EXCHANGE)
    best = next((p for p in reversed(protocols) if p.supported and p.protocol != "TLSv1.3"), None)
    result["server_cipher_order"] = best.server_order if best else None


async def _fill_certificate(result: dict[str, Any], handshake: FullHandshake, hostname: str,
                            options: ScanOptions) -> None:
    if not handshake.chain_der:
        result["errors"].append(handshake.error or "no certificate received")
        return
    if handshake.error:
        result["errors"].append(handshake.error)
    try:
        anchors = load_anchors(options.ca_file)
    except (OSError, ValueError) as exc:
        result["errors"].append(f"CA file: {exc}")
        anchors = load_anchors(None)
    info, chain = analyse_chain(handshake.chain_der, hostname, anchors, utcnow(), options.expiry_warning_days)
    result["chain_pem"] = chain_to_pem(handshake.chain_der)
    if options.check_revocation:
        status, source, detail = await RevocationChecker.shared().check(chain, anchors, handshake.ocsp_staple,
                                                                        options.timeout)
        info["revocation"], info["revocation_source"] = status, source
        if detail:
            info["revocation_detail"] = detail
    info["ocsp_stapled"] = handshake.ocsp_staple is not None
    result["certificate"] = info


async def scan_many(targets: Iterable[ScanTarget], options: ScanOptions = ScanOptions(), concurrency: int = 64,
                    progress: Callable[[dict[str, Any]], None] | None = None) -> AsyncIterator[dict[str, Any]]:
    """Scan targets with at most `concurrency` endpoints in flight; yields results as they finish."""
    pending: set[asyncio.Task[dict[str, Any]]] = set()
    iterator = iter(targets)
    exhausted = False
    while True:
        while not exhausted and len(pending) < max(1, concurrency):
            nxt = next(iterator, None)
            if nxt is None:
                exhausted = True
                break
            pending.add(asyncio.create_task(scan_target(nxt, options)))
        if not pending:
            return
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            item = task.result()
            if progress is not None:
                progress(item)
            yield item

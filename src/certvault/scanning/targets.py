"""Turning what a user typed (names, IPs, CIDR ranges, port lists, a targets file) into scan targets.

Parsing is pure and strict: a bad entry raises InvalidInput naming it, before anything is stored.
Expansion resolves each name to all its A/AAAA addresses (one target per address), which is
network I/O and runs outside any transaction.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from certvault.errors import InvalidInput
from certvault.names import problem
from certvault.tls.scanner import ScanTarget, resolve_targets

DEFAULT_PORT = 443
MAX_TARGETS = 100_000
STARTTLS_PROTOCOLS = ("smtp", "imap", "pop3", "ftp", "ldap", "postgres", "none")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class TargetEntry:
    """One parsed line: a host name or address, or a network, with its port if one was given."""

    host: str
    port: int | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None

    @property
    def is_ip(self) -> bool:
        return _ip(self.host) is not None


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def parse_port(text: str, where: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise InvalidInput(f"{where}: port {text!r} is not a number from 1 to 65535")
    return int(text)


def parse_ports(values: Iterable[int | str]) -> list[int]:
    """'443,8443' or [443, 8443] -> [443, 8443]; ranges like 8000-8010 are allowed."""
    ports: list[int] = []
    for value in values:
        for part in str(value).replace(" ", "").split(","):
            if not part:
                continue
            low, dash, high = part.partition("-")
            if dash:
                a, b = parse_port(low, "ports"), parse_port(high, "ports")
                if b < a or b - a > 1024:
                    raise InvalidInput(f"ports: range {part!r} is reversed or wider than 1024 ports")
                ports.extend(range(a, b + 1))
            else:
                ports.append(parse_port(part, "ports"))
    return list(dict.fromkeys(ports))


def parse_target(text: str) -> TargetEntry:
    """host, host:port, 192.0.2.1:443, [2001:db8::1]:443, 2001:db8::1, 192.0.2.0/28, [2001:db8::/126]:443."""
    raw = text.strip()
    if not raw:
        raise InvalidInput("empty target")
    host, port = _split_port(raw)
    if "/" in host:
        return TargetEntry(host, port, _network(host, raw))
    if _ip(host) is not None:
        return TargetEntry(str(_ip(host)), port)
    return TargetEntry(_hostname(host, raw), port)


def _split_port(raw: str) -> tuple[str, int | None]:
    if raw.startswith("["):
        inner, closed, rest = raw[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise InvalidInput(f"target {raw!r}: write IPv6 addresses as [address]:port")
        return inner, parse_port(rest[1:], f"target {raw!r}") if rest else None
    if raw.count(":") == 1:
        host, _, port = raw.partition(":")
        return host, parse_port(port, f"target {raw!r}")
    return raw, None  # a name, an IPv4 address, or a bare IPv6 address


def _network(text: str, raw: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidInput(f"target {raw!r} is not a valid CIDR range") from None
    if network.num_addresses > MAX_TARGETS:
        raise InvalidInput(f"target {raw!r}: range has {network.num_addresses} addresses, more than {MAX_TARGETS}")
    return network


def _hostname(host: str, raw: str) -> str:
    name = host.rstrip(".").lower()
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InvalidInput(f"target {raw[:100]!r} is not a host name, IP address or CIDR range")
    return name


def check_sni(value: str | None) -> str | None:
    """The SNI name to send: a DNS name (no IP, no wildcard)."""
    if value is None or not value.strip():
        return None
    return _hostname(value.strip(), value)


def check_text(value: str, what: str, limit: int = 255) -> str:
    """Free text that goes into the database: bounded, without control or invisible characters (names.py)."""
    if len(value) > limit:
        raise InvalidInput(f"{what}: use at most {limit} characters")
    found = problem(value)
    if found is not None:
        raise InvalidInput(f"{what}: {found}")
    return value


def parse_targets_text(text: str, source: str = "targets file") -> list[TargetEntry]:
    """One target per line (or comma/space separated); '#' starts a comment."""
    entries: list[TargetEntry] = []
    for number, line in enumerate(text.splitlines(), 1):
        for item in line.split("#", 1)[0].replace(",", " ").split():
            try:
                entries.append(parse_target(item))
            except InvalidInput as exc:
                raise InvalidInput(f"{source} line {number}: {exc.message}") from None
    return entries


def check_starttls(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if value.lower() not in STARTTLS_PROTOCOLS:
        raise InvalidInput(f"starttls {value!r} is not one of {', '.join(STARTTLS_PROTOCOLS)}")
    return value.lower()


def count_targets(entries: Iterable[TargetEntry], ports: list[int]) -> int:
    """Targets before name resolution (a name may add more, one per address)."""
    total = 0
    for entry in entries:
        addresses = entry.network.num_addresses if entry.network is not None else 1
        total += addresses * (1 if entry.port else len(ports))
    return total


def check_size(entries: list[TargetEntry], ports: list[int]) -> None:
    total = count_targets(entries, ports)
    if total > MAX_TARGETS:
        raise InvalidInput(f"{total} targets requested; one scan takes at most {MAX_TARGETS}")


@dataclass(frozen=True)
class Unresolved:
    host: str
    port: int
    sni: str | None
    error: str


def _addresses(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Iterable[str]:
    if network.num_addresses <= 2:
        return [str(a) for a in network]
    return [str(a) for a in network.hosts()]


async def expand(entries: list[TargetEntry], ports: list[int], sni: str | None = None, starttls: str | None = None,
                 resolve_concurrency: int = 64) -> tuple[list[ScanTarget], list[Unresolved]]:
    """Every (address, port) to scan; names become one target per A/AAAA address."""
    ready: list[ScanTarget] = []
    names: list[tuple[str, int]] = []
    for entry in entries:
        for port in [entry.port] if entry.port else ports:
            if entry.network is not None:
                ready.extend(ScanTarget(a, a, port, sni, starttls) for a in _addresses(entry.network))
            elif entry.is_ip:
                ready.append(ScanTarget(entry.host, entry.host, port, sni, starttls))
            else:
                names.append((entry.host, port))
    resolved, unresolved = await resolve_names(names, sni, starttls, resolve_concurrency)
    return dedupe([*ready, *resolved]), unresolved


async def resolve_names(names: list[tuple[str, int]], sni: str | None, starttls: str | None,
                        concurrency: int = 64) -> tuple[list[ScanTarget], list[Unresolved]]:
    gate = asyncio.Semaphore(concurrency)

    async def one(host: str, port: int) -> list[ScanTarget] | Unresolved:
        async with gate:
            try:
                found = await asyncio.wait_for(resolve_targets(host, port, sni, starttls), timeout=15)
            except Exception as exc:  # DNS failures of every kind end up as a result with errors
                reason = exc.__cause__ or exc  # the resolver's own words, without a second prefix
                return Unresolved(host, port, sni, f"could not resolve {host}: {reason or type(exc).__name__}")
        return found or Unresolved(host, port, sni, f"could not resolve {host}: no A or AAAA record")

    targets: list[ScanTarget] = []
    failed: list[Unresolved] = []
    for outcome in await asyncio.gather(*(one(h, p) for h, p in dict.fromkeys(names))):
        if isinstance(outcome, Unresolved):
            failed.append(outcome)
        else:
            targets.extend(outcome)
    return targets, failed


def dedupe(targets: Iterable[ScanTarget]) -> list[ScanTarget]:
    seen: dict[tuple[str, str, int, str | None], ScanTarget] = {}
    for target in targets:
        seen.setdefault((target.host, target.ip, target.port, target.sni), target)
    return list(seen.values())


def target_to_list(target: ScanTarget) -> list[Any]:
    """Compact JSON form for job payloads."""
    return [target.host, target.ip, target.port, target.sni, target.starttls]


def target_from_list(row: list[Any]) -> ScanTarget:
    host, ip, port, sni, starttls = row
    return ScanTarget(str(host), str(ip), int(port), sni, starttls)

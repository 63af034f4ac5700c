"""Operator settings of the ACME engine, stored as runtime settings (`certvault` settings rows)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from certvault.db.base import table_of
from certvault.system.models import Setting

PREFIX = "acme."


@dataclass(frozen=True)
class AcmeRuntime:
    http01_port: int = 80  # where the CA connects for http-01 (the standalone responder listens there)
    http01_addresses: tuple[str, ...] = ("0.0.0.0", "::")  # noqa: S104 - the responder must face the CA
    resolvers: tuple[str, ...] = ()  # HOST:PORT resolvers for self-checks; empty = the system's
    # HOST:PORT servers that must serve a dns-01 TXT record before the CA is told, when the DNS account
    # names none (split-horizon DNS, a hidden primary, manual mode); empty = the zone's authoritative servers
    dns_check_servers: tuple[str, ...] = ()
    max_in_flight_per_ca: int = 200
    unavailable_grace: float = 600.0  # seconds a CA may stay unreachable before an order fails
    validation_timeout: float = 1800.0  # seconds the CA may take to validate or issue
    verify_grace: float = 120.0  # seconds "verify" keeps re-checking a manual response before asking again


_SETTINGS = table_of(Setting)
_LOAD = select(_SETTINGS.c.key, _SETTINGS.c.value).where(
    _SETTINGS.c.key.in_([PREFIX + f.name for f in fields(AcmeRuntime)]))  # built once: read per engine step


def load_runtime(session: Session) -> AcmeRuntime:
    rows = {key[len(PREFIX):]: value for key, value in session.execute(_LOAD)}
    values: dict[str, Any] = {}
    for f in fields(AcmeRuntime):
        if rows.get(f.name) is None:
            continue
        value = rows[f.name]
        values[f.name] = tuple(value) if isinstance(value, list) else value
    return AcmeRuntime(**values)


def setting_keys() -> list[str]:
    return [PREFIX + f.name for f in fields(AcmeRuntime)]

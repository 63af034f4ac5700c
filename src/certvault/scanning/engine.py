"""The bridge from synchronous callers (jobs, CLI) to the asyncio scanning engine in certvault.tls.

Runs the engine on a private event loop, outside any database transaction, and guarantees one
result per target: a crash inside the engine becomes a result with `errors` filled.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from certvault.scanning.targets import Unresolved
from certvault.tls.scanner import ScanOptions, ScanTarget, empty_result, scan_many


@dataclass(frozen=True)
class EngineSettings:
    """What a run asks of the engine; ca_pem is written to a temporary file for the engine."""

    ca_pem: str | None = None
    timeout: float = 5.0
    concurrency: int = 32
    check_revocation: bool = True
    check_hsts: bool = True
    expiry_warning_days: int = 30

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> EngineSettings:
        return cls(ca_pem=spec.get("ca_pem"), timeout=float(spec.get("timeout", 5.0)),
                   concurrency=int(spec.get("concurrency", 32)),
                   check_revocation=bool(spec.get("check_revocation", True)),
                   check_hsts=bool(spec.get("check_hsts", True)),
                   expiry_warning_days=int(spec.get("expiry_warning_days", 30)))

    def trusting(self, pem: str) -> EngineSettings:
        """These settings with `pem` (a CA certificate) trusted as well."""
        if not pem.strip() or (self.ca_pem and pem.strip() in self.ca_pem):
            return self
        return replace(self, ca_pem=f"{self.ca_pem.rstrip()}\n{pem.strip()}\n" if self.ca_pem else pem)


_CA_FILES: dict[str, str] = {}  # CA bundle digest -> its file: one file (and one parsed trust store) per bundle
_CA_LOCK = threading.Lock()


def _ca_file(pem: str) -> str:
    """The bundle in a file of this process's private temporary directory (removed at exit). Named by its digest,
    so the engine's cached trust store (keyed by path) is reused by every batch that trusts the same CAs."""
    digest = hashlib.sha256(pem.encode()).hexdigest()
    with _CA_LOCK:
        if digest not in _CA_FILES:
            if not _CA_FILES:
                directory = tempfile.mkdtemp(prefix="certvault-ca-")
                atexit.register(shutil.rmtree, directory, True)
                _CA_FILES["dir"] = directory
            path = os.path.join(_CA_FILES["dir"], f"{digest}.pem")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(pem)
            _CA_FILES[digest] = path
        return _CA_FILES[digest]


@contextmanager
def engine_options(settings: EngineSettings, ca_file: str | None = None) -> Iterator[ScanOptions]:
    """ScanOptions for the engine, with the run's CA bundle in a private file."""
    if settings.ca_pem and not ca_file:
        ca_file = _ca_file(settings.ca_pem)
    yield ScanOptions(ca_file=ca_file, timeout=settings.timeout, check_revocation=settings.check_revocation,
                      check_hsts=settings.check_hsts, expiry_warning_days=settings.expiry_warning_days)


def error_result(host: str, ip: str | None, port: int, sni: str | None, message: str) -> dict[str, Any]:
    """A result in the contract's shape for a target that could not be scanned at all."""
    result = empty_result(ScanTarget(host, ip or "", port, sni))
    result["errors"].append(message)
    return result


def unresolved_result(item: Unresolved) -> dict[str, Any]:
    return error_result(item.host, None, item.port, item.sni, item.error)


def scan(targets: Sequence[ScanTarget], options: ScanOptions, concurrency: int,
         on_result: Callable[[dict[str, Any]], None]) -> None:
    """Scan every target (blocking); on_result gets each result as it completes, exactly once."""
    if targets:
        asyncio.run(_scan(list(targets), options, concurrency, on_result))


async def _scan(targets: list[ScanTarget], options: ScanOptions, concurrency: int,
                on_result: Callable[[dict[str, Any]], None]) -> None:
    pending: dict[tuple[str, str, int], list[ScanTarget]] = {}
    for target in targets:
        pending.setdefault(_key_of_target(target), []).append(target)
    message = "scanner returned no result"
    try:
        async for result in scan_many(targets, options, concurrency=concurrency):
            waiting = pending.get(_key_of_result(result))
            if waiting:
                waiting.pop()
            on_result(result)
    except Exception as exc:  # an engine bug must not lose the other targets' results
        message = f"scanner failed: {type(exc).__name__}: {exc}"
    for left in pending.values():  # never drop a target silently
        for target in left:
            on_result(error_result(target.host, target.ip, target.port, target.sni, message))


def _key_of_target(target: ScanTarget) -> tuple[str, str, int]:
    return target.host, target.ip, target.port


def _key_of_result(result: dict[str, Any]) -> tuple[str, str, int]:
    target = result.get("target") or {}
    return str(target.get("host")), str(target.get("ip")), int(target.get("port") or 0)

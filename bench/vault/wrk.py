"""Drive wrk (C, epoll: the load generator costs the server almost no CPU) and read its figures."""

from __future__ import annotations

import re
import statistics
import subprocess
from dataclasses import dataclass

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class Figures:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers plus socket errors

    def cell(self) -> str:
        flag = f" ({self.errors} errors!)" if self.errors else ""
        return f"{self.rps:7.0f}/s p50 {self.p50_ms:6.2f} p99 {self.p99_ms:7.2f} ms{flag}"


def run(url: str, connections: int, seconds: float, token: str | None = None) -> Figures:
    """One wrk run over HTTPS keep-alive, one client thread (it needs far less than a core)."""
    args = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s"]
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 60)
    return parse(done.stdout + done.stderr)


def median(runs: list[Figures]) -> Figures:
    """Each figure's median over runs of the same measurement (errors: all of them)."""
    return Figures(statistics.median(r.rps for r in runs), statistics.median(r.p50_ms for r in runs),
                   statistics.median(r.p99_ms for r in runs), sum(r.errors for r in runs))


def parse(out: str) -> Figures:
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"wrk gave no figures:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    if sockets:
        errors += sum(int(n) for n in sockets.groups())
    return Figures(float(found.group(1)), _latency(out, "50%"), _latency(out, "99%"), errors)


def _latency(out: str, percentile: str) -> float:
    found = re.search(rf"^\s+{percentile}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    return float(found.group(1)) * _UNITS[found.group(2)] if found else float("nan")

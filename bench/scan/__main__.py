"""Scanner benchmark: `python -m bench.scan [--endpoints N] [--sslyze-endpoints N]`.

Against loopback nginx targets (modern TLS 1.2/1.3 config, RSA-2048 certificates from a test CA), it prints:
connections per endpoint, endpoints/s for the full default scan at several concurrency levels, and sslyze's
default scan of the same targets in the same run (sslyze lives in its own venv under ~/.cache) for the ratio.
It prints figures and never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.servers.tls.pki import TestCA
from tests.servers.tls.servers import NginxSite, start_nginx

from certvault.tls.scanner import ScanOptions, ScanTarget, scan_many, scan_target

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "certvault-bench"
SITES = 16
# sslyze 6's default CLI scan (what it runs with no command given; listed because --json_out alone schedules none)
SSLYZE_DEFAULT_COMMANDS = ["--certinfo", "--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3",
                           "--compression", "--openssl_ccs", "--fallback", "--heartbleed", "--robot", "--reneg",
                           "--elliptic_curves", "--ems"]


def sslyze_python() -> Path:
    venv = CACHE / "sslyze-venv"
    python = venv / "bin" / "python"
    if not (venv / "bin" / "sslyze").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "sslyze"], check=True, timeout=900)
    return python


def _cpu_load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


async def _throughput(targets: list[ScanTarget], options: ScanOptions, concurrency: int) -> tuple[float, int, int]:
    started = time.perf_counter()
    results = [r async for r in scan_many(targets, options, concurrency=concurrency)]
    elapsed = time.perf_counter() - started
    failures = sum(1 for r in results if r["errors"] or r["grade"] == "-")
    return len(results) / elapsed, sum(r["connections"] for r in results), failures


def run_sslyze(python: Path, targets: list[ScanTarget], ca: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        names = [f"{t.ip}:{t.port}" for t in targets]
        started = time.perf_counter()
        subprocess.run([str(python), "-m", "sslyze", "--quiet", "--mozilla_config=disable", f"--json_out={out}",
                        *SSLYZE_DEFAULT_COMMANDS, f"--certinfo_ca_file={ca}", *names],
                       capture_output=True, timeout=1800)
        elapsed = time.perf_counter() - started
        data = json.loads(out.read_text()) if out.exists() else {}
    results = data.get("server_scan_results", [])
    completed = sum(1 for r in results if r.get("scan_status") == "COMPLETED")
    commands = sum(1 for r in results for c in (r.get("scan_result") or {}).values() if c.get("status") == "COMPLETED")
    print(f"sslyze: {completed}/{len(targets)} scans completed, {commands / max(1, len(targets)):.0f} commands each")
    return len(targets) / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scan")
    parser.add_argument("--endpoints", type=int, default=480, help="endpoint scans per concurrency level")
    parser.add_argument("--sslyze-endpoints", type=int, default=16)
    parser.add_argument("--concurrency", default="8,32,128")
    args = parser.parse_args(argv or [])  # `python -m bench` calls main() with no arguments: the defaults
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        loop_name = "uvloop"
    except ImportError:
        loop_name = "asyncio"
    workdir = Path(tempfile.mkdtemp(prefix="cv-bench-scan-"))
    ca = TestCA(workdir / "ca")
    leaf = ca.issue("bench")
    sites = [NginxSite(f"site{i}", leaf.cert, leaf.key) for i in range(SITES)]
    running = start_nginx(workdir, sites, workers=2)
    endpoints = [ScanTarget("localhost", r.ip, r.port) for r in running.values()]
    options = ScanOptions(ca_file=str(ca.cert), timeout=10)
    try:
        print(f"targets: {SITES} nginx 1.22 endpoints on 127.0.0.1 (TLS 1.2+1.3, ECDHE-RSA, HSTS), 2 nginx workers; "
              f"scanner on {loop_name}; {_cpu_load()}")
        single = asyncio.run(scan_target(endpoints[0], options))
        print(f"connections per endpoint (full default scan): {single['connections']} "
              f"(grade {single['grade']}, {single['duration_ms']} ms alone)")
        rates: dict[int, float] = {}
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            targets = [endpoints[i % SITES] for i in range(args.endpoints)]
            rate, conns, failures = asyncio.run(_throughput(targets, options, concurrency))
            rates[concurrency] = rate
            print(f"certvault concurrency {concurrency:>4}: {rate:7.1f} endpoints/s "
                  f"({conns / len(targets):.1f} connections/endpoint, {failures} with errors)")
        python = sslyze_python()
        sslyze_rate = run_sslyze(python, endpoints[: args.sslyze_endpoints], ca.cert)
        best = max(rates.values())
        print(f"sslyze default scan: {sslyze_rate:7.2f} endpoints/s ({args.sslyze_endpoints} endpoints)")
        print(f"ratio certvault/sslyze: {best / sslyze_rate:6.1f}x   ({_cpu_load()})")
    finally:
        for r in {id(r.procs[0]): r for r in running.values()}.values():
            r.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Inventory benchmark: import throughput and the "expiring within 30 days" first page at scale.

    python -m bench.inventory [--sizes 100000,1000000] [--backends sqlite,postgres] [--runs 20]

Imports go through the real path (`CertificateService.import_data`, one file of 10,000 PEM
certificates per transaction, as a directory import or a multi-file upload does). After each size
is reached, the first page of `certvault cert list --expiring-within 30` is timed through
`CertificateService.search`. Reference runs side by side: `openssl storeutl` parsing the same files
(no storage), and the same page query forced into a table scan. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.inventory import corpus
from certvault.auth.rbac import Actor
from certvault.certificates.search import CertificateQuery
from certvault.config import load_settings
from certvault.container import App, build_app

ACTOR = Actor.system("bench", via="cli")
PAGE_TARGET_MS = 50.0
IMPORT_TARGET = 5000.0
SCAN_SQL = {
    "sqlite": "SELECT id FROM cert_entries NOT INDEXED WHERE not_after >= :now AND not_after < :until "
              "ORDER BY not_after, id LIMIT 50",
    "postgresql": "SELECT id FROM cert_entries WHERE not_after >= :now AND not_after < :until "
                  "ORDER BY not_after, id LIMIT 50",
}


def load_average() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} on {os.cpu_count()} cores"


def openssl_parse_rate(files: list[Path]) -> float:
    """Certificates per second that `openssl storeutl` reads (parse only, nothing stored)."""
    start = time.perf_counter()
    for file in files:
        subprocess.run(["openssl", "storeutl", "-noout", "-certs", str(file)], check=True, capture_output=True,
                       timeout=600)
    return len(files) * corpus.PER_FILE / (time.perf_counter() - start)


def cpu_seconds() -> float:
    """CPU of this process and of its live children (the worker processes that describe certificates)."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid():
                ticks += int(fields[11]) + int(fields[12])
    return time.process_time() + ticks / os.sysconf("SC_CLK_TCK")


def import_files(app: App, files: list[Path]) -> tuple[float, float]:
    """(certificates per second, CPU milliseconds per 1,000 certificates, workers included)."""
    start, cpu = time.perf_counter(), cpu_seconds()
    for file in files:
        data = file.read_bytes()
        with app.transaction() as svc:
            result = svc.certificates.import_data(ACTOR, data, file.name)
        if result.certificates != corpus.PER_FILE:
            raise RuntimeError(f"{file}: imported {result.certificates} certificates")
    count = len(files) * corpus.PER_FILE
    return count / (time.perf_counter() - start), (cpu_seconds() - cpu) * 1e6 / count


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    """Median and worst of `runs` calls, in milliseconds (after one warm-up call)."""
    fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


def first_page(app: App) -> int:
    with app.transaction() as svc:
        page = svc.certificates.search(ACTOR, CertificateQuery(expiring_within=30, limit=50))
        return len(page.items)


def scan_page(app: App) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    with app.engine.connect() as conn:
        if app.engine.dialect.name == "postgresql":
            conn.execute(text("SET enable_indexscan = off"))
            conn.execute(text("SET enable_bitmapscan = off"))
            conn.execute(text("SET enable_indexonlyscan = off"))
        naive = app.engine.dialect.name == "sqlite"
        bounds = {"now": now, "until": now + timedelta(days=30)}
        if naive:
            bounds = {k: v.replace(tzinfo=None).isoformat(sep=" ") for k, v in bounds.items()}
        conn.execute(text(SCAN_SQL[app.engine.dialect.name]), bounds).all()


def open_backend(name: str, workdir: Path) -> tuple[App, Callable[[], None]]:
    data = workdir / name
    if name == "sqlite":
        app = build_app(load_settings(environ={}, overrides={"data_dir": str(data)}))
        return app, app.close
    from tests.servers.postgres import PostgresServer

    server = PostgresServer().start()
    url = server.create_database("bench")
    app = build_app(load_settings(environ={}, overrides={"data_dir": str(data), "db": {"url": url}}))

    def close() -> None:
        app.close()
        server.stop()

    return app, close


def run_backend(name: str, files: list[Path], sizes: list[int], runs: int, workdir: Path, reference: float) -> None:
    app, close = open_backend(name, workdir)
    try:
        done = 0
        for size in sizes:
            batch = files[done // corpus.PER_FILE:size // corpus.PER_FILE]
            print(f"[{name}] importing {len(batch) * corpus.PER_FILE:,} certificates ({load_average()})", flush=True)
            rate, cpu_ms = import_files(app, batch)
            done = size
            print(f"[{name}] import: {rate:,.0f} certificates/s "
                  f"({rate / IMPORT_TARGET:.2f}x the 5,000/s target; {rate / reference:.2f}x the rate openssl "
                  f"only parses them); {cpu_ms:.0f} ms of certvault CPU per 1,000 certificates "
                  f"({load_average()})", flush=True)
            if name == "postgresql":
                with app.engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
            found = first_page(app)
            median, worst = timed(lambda: first_page(app), runs)
            scan_median, _ = timed(lambda: scan_page(app), max(3, runs // 4))
            print(f"[{name}] {size:,} stored: first page of 'expiring within 30 days' ({found} rows) "
                  f"median {median:.1f} ms, worst {worst:.1f} ms of {runs} "
                  f"({PAGE_TARGET_MS / median:.1f}x under the 50 ms target); table-scan reference "
                  f"{scan_median:.1f} ms ({scan_median / median:.0f}x slower) ({load_average()})", flush=True)
    finally:
        close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inventory")
    parser.add_argument("--sizes", default="100000,1000000", help="inventory sizes to measure at")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop PostgreSQL and clean up on kill
    sizes = sorted(int(s) for s in args.sizes.split(","))
    print(f"inventory benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {load_average()}", flush=True)
    files = corpus.ensure(sizes[-1])
    sample = files[:max(1, min(len(files), 10))]
    reference = openssl_parse_rate(sample)
    print(f"reference: openssl storeutl parses {reference:,.0f} certificates/s (no storage)", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="cv-bench-inventory-"))
    try:
        for backend in args.backends.split(","):
            run_backend(backend.strip(), files, sizes, args.runs, workdir, reference)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

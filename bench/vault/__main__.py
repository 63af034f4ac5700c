"""Vault read throughput: authenticated secret reads/s and p50/p99 latency, auditing on, against a real
`certvault serve` over HTTPS keep-alive, from 1 and 32 connections, on SQLite and PostgreSQL, with one
server process and with several (`serve --workers N`).

wrk generates the load (C, one thread: it leaves the server nearly all of the machine). Reference run
side by side: GET /api/v1/health on the same server (no auth, no audit, one query), so each figure
also reads as "a vault read costs N health checks". Each figure is the median of --rounds interleaved
runs. Then an in-process breakdown says where a read's time goes. Prints figures; asserts nothing.

    python -m bench.vault [--seconds 5] [--rounds 3] [--backends sqlite,postgres] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from tests.servers.certvault_server import LiveServer, remove_live_server, start_live_server
from tests.servers.process import free_port

from bench.vault import inprocess, wrk

CONNECTIONS = (1, 32)


def _setup(live: LiveServer) -> tuple[str, str]:
    live.cli("folder", "add", "Bench")
    secret = json.loads(live.cli("secret", "add", "--folder", "Bench", "--template", "password", "--name", "db",
                                 "--field", "username=u", "--field", "password=Bench-Passw0rd", "--json").stdout)
    live.cli("user", "add", "reader", "--role", "user", "--password", "Reader-pass-1")
    live.cli("folder", "grant", "Bench", "reader", "view")
    return str(secret["id"]), live.token("reader")


def _restart(live: LiveServer, workers: int) -> None:
    live.stop()
    live.port = free_port()
    live.start("--no-worker", "--workers", str(workers))


def _measure(live: LiveServer, secret_id: str, token: str, seconds: float,
             rounds: int) -> dict[int, dict[str, wrk.Figures]]:
    """Each figure is the median of `rounds` interleaved runs (the shared machine's other load comes and goes)."""
    read_url = f"{live.url}/api/v1/vault/secrets/{secret_id}/values"
    wrk.run(read_url, 32, 1, token)  # warm-up: caches, pools, prepared statements
    runs: dict[int, dict[str, list[wrk.Figures]]] = {c: {"read": [], "health": []} for c in CONNECTIONS}
    for _ in range(rounds):
        for connections in CONNECTIONS:
            runs[connections]["read"].append(wrk.run(read_url, connections, seconds, token))
            time.sleep(1)  # what the server still had queued when wrk stopped must not count against the next run
            runs[connections]["health"].append(wrk.run(f"{live.url}/api/v1/health", connections, seconds / 2))
            time.sleep(1)
    return {c: {kind: wrk.median(figures) for kind, figures in row.items()} for c, row in runs.items()}


def _print_row(backend: str, workers: int, connections: int, row: dict[str, wrk.Figures]) -> None:
    read, health = row["read"], row["health"]
    print(f"{backend:8} {workers:>2} proc {connections:>2} conn | reads {read.cell()} | health {health.cell()} "
          f"| reads = {read.rps / health.rps:.2f}x health", flush=True)


def _postgres_env() -> tuple[Any, dict[str, str]]:
    from tests.servers.postgres import PostgresServer

    server = PostgresServer().start()
    return server, {"CERTVAULT_DB_URL": server.create_database(f"bench_{uuid.uuid4().hex[:8]}")}


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run_backend(backend: str, workers_list: list[int], seconds: float, rounds: int) -> None:
    pg, env = (None, {}) if backend == "sqlite" else _postgres_env()
    live = start_live_server(env, "--no-worker")
    try:
        secret_id, token = _setup(live)
        for index, workers in enumerate(workers_list):
            if index or workers != 1:
                _restart(live, workers)
            for connections, row in _measure(live, secret_id, token, seconds, rounds).items():
                _print_row(backend, workers, connections, row)
        app = inprocess.open_app(live.data_dir, {**env, "CERTVAULT_SECURITY_PASSWORD_MIN_LENGTH": "8"})
        try:
            parts = inprocess.breakdown(app, secret_id, token)
        finally:
            app.close()
        print(f"{backend:8} in-process, 1 at a time: read work (auth+read+audit+commit) {parts['work']:.2f} ms "
              f"in a transaction, {parts['direct']:.2f} ms direct (read-only session, group commit, JSON); "
              f"through ASGI without TLS: read {parts['asgi_read']:.2f} ms, health {parts['asgi_health']:.2f} ms",
              flush=True)
    finally:
        remove_live_server(live)
        if pg is not None:
            pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "5")))
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--workers", default="1,2", help="server process counts to measure")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per figure (the median is shown)")
    args, _ = parser.parse_known_args()
    workers_list = [int(n) for n in args.workers.split(",")]
    print(f"vault reads (GET /api/v1/vault/secrets/ID/values, audited) vs health checks; wrk -t1 over HTTPS "
          f"keep-alive; {time.strftime('%Y-%m-%d %H:%M')}; {os.cpu_count()} cores; load average before: {_load()}")
    for backend in args.backends.split(","):
        run_backend(backend, workers_list, args.seconds, args.rounds)
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()

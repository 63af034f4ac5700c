"""Vault read throughput: authenticated secret reads/s and p50/p99 latency, auditing on, against a real
`certvault serve` over HTTPS, from 1 and 32 concurrent clients, on SQLite and PostgreSQL.

Reference run side by side: GET /api/v1/health on the same server (no auth, no audit, one query),
so the figures read as "a vault read costs N health checks". Prints figures; asserts nothing.

    python -m bench.vault [--seconds 5] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from tests.servers.certvault_server import LiveServer, remove_live_server, start_live_server


def _setup(live: LiveServer) -> tuple[str, str]:
    live.cli("folder", "add", "Bench")
    secret = json.loads(live.cli("secret", "add", "--folder", "Bench", "--template", "password", "--name", "db",
                                 "--field", "username=u", "--field", "password=Bench-Passw0rd", "--json").stdout)
    live.cli("user", "add", "reader", "--role", "user", "--password", "Reader-pass-1")
    live.cli("folder", "grant", "Bench", "reader", "view")
    return str(secret["id"]), live.token("reader")


def _run(live: LiveServer, path: str, token: str | None, clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    def worker() -> None:
        mine: list[float] = []
        with httpx.Client(verify=live.ssl_context(), headers=headers, timeout=30) as client:
            while time.monotonic() < stop_at:
                start = time.perf_counter()
                response = client.get(live.url + path)
                mine.append(time.perf_counter() - start)
                if response.status_code != 200:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50": statistics.median(latencies) * 1000,
            "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000, "errors": errors[0], "n": len(latencies)}


def _postgres_env() -> tuple[Any, dict[str, str]]:
    from tests.servers.postgres import PostgresServer

    server = PostgresServer().start()
    name = f"bench_{uuid.uuid4().hex[:8]}"
    return server, {"CERTVAULT_DB_URL": server.create_database(name)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "5")))
    parser.add_argument("--backends", default="sqlite,postgres")
    args, _ = parser.parse_known_args()
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"vault reads (GET /api/v1/vault/secrets/ID/values, audited) vs health checks; "
          f"load average before: {' '.join(load)}; {os.cpu_count()} cores")
    for backend in args.backends.split(","):
        pg, env = (None, {}) if backend == "sqlite" else _postgres_env()
        live = start_live_server(env, "--no-worker")
        try:
            secret_id, token = _setup(live)
            for clients in (1, 32):
                ref = _run(live, "/api/v1/health", None, clients, args.seconds / 2)
                read = _run(live, f"/api/v1/vault/secrets/{secret_id}/values", token, clients, args.seconds)
                print(f"{backend:8} {clients:2} clients: {read['rps']:7.0f} reads/s  p50 {read['p50']:6.1f} ms  "
                      f"p99 {read['p99']:6.1f} ms  errors {read['errors']}  | health {ref['rps']:7.0f}/s "
                      f"(reads = {read['rps'] / ref['rps']:.2f}x health)", flush=True)
        finally:
            remove_live_server(live)
            if pg is not None:
                pg.stop()


if __name__ == "__main__":
    main()

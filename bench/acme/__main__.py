"""python -m bench.acme [--workers N] [--databases sqlite,postgresql] [--orders-1 N] [--orders-16 N]
                       [--orders-64 N] [--certbot-runs N] [--slots N]

Pebble 2.4.0 (PEBBLE_VA_NOSLEEP=1) validates DNS-01 against a local BIND9 that certvault updates
with TSIG-signed RFC 2136. The order engine runs in N worker processes (`--workers`, default 2:
what `certvault worker` runs, one per core) sharing the database with the benchmark process, which
places the orders as an API server would; `--workers 0` runs the engine inside the benchmark
process instead. "C concurrent orders" is a closed loop: C clients each request a certificate,
wait until the engine has stored it (committed), and request the next, so C orders are always in
flight. Latency is request → stored as the client sees it. certbot (`certonly --standalone`,
PyPI, own venv under ~/.cache) issues against the same Pebble in the same run. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.servers.bind9 import Bind9
from tests.servers.pebble import Pebble

from bench.acme.certbot import certbot_seconds
from bench.acme.processes import Finished, WorkerProcesses, cpu_seconds
from certvault.auth.rbac import Actor
from certvault.config import load_settings
from certvault.container import App, build_app
from certvault.issuance.requests import RequestSpec

ADMIN = Actor.system("bench", via="cli")


def _client(
    app: App,
    finished: Finished,
    account_id: uuid.UUID,
    dns_id: uuid.UUID,
    todo: list[int],
    latencies: list[float],
    lock: threading.Lock,
) -> None:
    while True:
        with lock:
            if not todo:
                return
            todo.pop()
        started = time.perf_counter()
        with app.transaction() as svc:
            spec = RequestSpec(
                account_id, [f"b{uuid.uuid4().hex[:10]}.bench.test"], challenge="dns-01", dns_account_id=dns_id
            )
            order_id = svc.issuance.requests.request(ADMIN, spec).id
        if not finished.event_for(order_id).wait(120):
            raise RuntimeError(f"order {order_id} did not finish in 120 s")
        if order_id not in finished.failed:
            with lock:
                latencies.append(time.perf_counter() - started)


def _round(
    app: App,
    finished: Finished,
    ids: tuple[uuid.UUID, uuid.UUID],
    concurrency: int,
    count: int,
    cpu: Callable[[], dict[str, float]],
) -> dict[str, Any]:
    cpu_before = cpu()
    todo, latencies, lock = list(range(count)), [], threading.Lock()
    failed_before = len(finished.failed)
    clients = [
        threading.Thread(target=_client, args=(app, finished, *ids, todo, latencies, lock)) for _ in range(concurrency)
    ]
    start = time.perf_counter()
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    elapsed = time.perf_counter() - start
    cpu_after = cpu()
    latencies.sort()
    return {
        "per_min": len(latencies) / elapsed * 60,
        "median": statistics.median(latencies) if latencies else 0,
        "p95": latencies[max(0, int(len(latencies) * 0.95) - 1)] if latencies else 0,
        "failed": len(finished.failed) - failed_before,
        "n": count,
        "cpu_ms": {k: (cpu_after[k] - cpu_before[k]) * 1000 / max(1, count) for k in cpu_after},
    }


def _setup(app: App, pebble: Pebble, named: Bind9) -> tuple[uuid.UUID, uuid.UUID]:
    with app.transaction() as svc:
        account = svc.issuance.accounts.register(
            ADMIN, pebble.directory_url, None, True, ca_bundle_pem=pebble.tls_ca.read_text()
        )
        dns = svc.issuance.dns_accounts.add(
            ADMIN,
            "rfc2136",
            "bench",
            {"server": named.address, "key_name": named.key_name, "zone": "bench.test"},
            {"key_secret": named.secret},
        )
        return account.id, dns.id


def _open_database(kind: str, work: Path) -> tuple[App, Callable[[], None], Callable[[], dict[str, float]]]:
    """The app on a fresh database, how to close it, and the database server's CPU (PostgreSQL)."""
    data = work / f"data-{kind}"
    if kind == "sqlite":
        app = build_app(load_settings(environ={}, overrides={"data_dir": str(data)}))
        return app, app.close, dict
    from tests.servers.postgres import PostgresServer

    server = PostgresServer().start()
    url = server.create_database("bench")
    app = build_app(load_settings(environ={}, overrides={"data_dir": str(data), "db": {"url": url}}))
    assert server.proc is not None
    pid = server.proc.pid

    def close() -> None:
        app.close()
        server.stop()

    return app, close, lambda: {"postgres": cpu_seconds(pid, children=True)}


def _run_database(
    kind: str,
    args: argparse.Namespace,
    work: Path,
    pebble: Pebble,
    named: Bind9,
    results: dict[str, dict[int, dict[str, Any]]],
    label: str | None = None,
) -> None:
    app, close, database_cpu = _open_database(kind, work)
    label = label or kind
    finished = Finished()
    workers: WorkerProcesses | None = None
    in_process: Any = None
    try:
        ids = _setup(app, pebble, named)
        slots = args.slots or app.settings.worker.concurrency
        assert pebble.proc is not None and named.proc is not None
        others = {"pebble": pebble.proc.pid, "named": named.proc.pid}
        if args.workers > 0:
            workers = WorkerProcesses(app, args.workers, slots, finished, work / f"workers-{kind}").start()
            engine = f"{args.workers} worker processes x {slots} slots"
        else:
            finished.watch(app.sessions)
            in_process = app.worker(concurrency=slots)
            in_process.start_background()
            engine = f"the benchmark process ({slots} slots)"

        def cpu() -> dict[str, float]:
            own = {"certvault (bench: requests" + (")" if workers else " + engine)"): time.process_time()}
            return {
                **own,
                **(workers.cpu() if workers else {}),
                **{k: cpu_seconds(p) for k, p in others.items()},
                **database_cpu(),
            }

        print(f"[{label}] engine in {engine}; load average {os.getloadavg()[0]:.2f}", flush=True)
        if args.warmup > 0:  # imports, first compilations, TLS connections: not part of any round
            _round(app, finished, ids, min(8, args.warmup), args.warmup, cpu)
        results[label] = {}
        for concurrency, count in ((1, args.orders_1), (16, args.orders_16), (64, args.orders_64)):
            if count <= 0:
                continue
            r = _round(app, finished, ids, concurrency, count, cpu)
            results[label][concurrency] = r
            split = ", ".join(f"{k} {v:.1f}" for k, v in r["cpu_ms"].items())
            print(
                f"[{label}] {concurrency:>2} concurrent: {r['per_min']:7.0f} certificates/min, median "
                f"{r['median'] * 1000:5.0f} ms, p95 {r['p95'] * 1000:5.0f} ms, {r['failed']} failed of {r['n']} "
                f"(load {os.getloadavg()[0]:.2f}; CPU ms per certificate: {split}; "
                f"total {sum(r['cpu_ms'].values()):.1f})",
                flush=True,
            )
    finally:
        if workers is not None:
            workers.stop()
        if in_process is not None:
            in_process.stop()
        close()


def _noisy_round(args: argparse.Namespace, work: Path, named: Bind9, results: dict[str, Any]) -> None:
    """16 concurrent orders on SQLite against a Pebble that rejects a share of nonces (badNonce)."""
    noisy = Pebble(
        work / "pebble-noisy", dns_server=named.address, env={"PEBBLE_WFE_NONCEREJECT": str(args.nonce_reject)}
    ).start()
    try:
        rounds = argparse.Namespace(**{**vars(args), "orders_1": 0, "orders_16": 160, "orders_64": 0, "warmup": 0})
        _run_database(
            "sqlite",
            rounds,
            work / "noisy",
            noisy,
            named,
            results,
            label=f"sqlite, {args.nonce_reject}% nonces rejected",
        )
    finally:
        noisy.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.acme")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (0: engine in this process)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--orders-1", type=int, default=30)
    parser.add_argument("--orders-16", type=int, default=320)
    parser.add_argument("--orders-64", type=int, default=640)
    parser.add_argument("--warmup", type=int, default=16, help="orders issued before measuring")
    parser.add_argument("--certbot-runs", type=int, default=3)
    parser.add_argument("--slots", type=int, default=0, help="job slots per worker (default: the shipped setting)")
    parser.add_argument(
        "--nonce-reject",
        type=int,
        default=30,
        help="percent of nonces a second Pebble rejects in a last round (0: no such round)",
    )
    args, _ = parser.parse_known_args(sys.argv[2:] if len(sys.argv) > 1 and sys.argv[1] == "acme" else sys.argv[1:])
    work = Path(tempfile.mkdtemp(prefix="cv-bench-acme-"))
    named = Bind9(work / "bind", zones=("bench.test",)).start()
    pebble = Pebble(work / "pebble", dns_server=named.address).start()
    results: dict[str, dict[int, dict[str, Any]]] = {}
    try:
        print(
            f"machine: {os.cpu_count()} cores, load average before {os.getloadavg()[0]:.2f}; "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            flush=True,
        )
        for kind in [k.strip() for k in args.databases.split(",") if k.strip()]:
            _run_database(kind, args, work, pebble, named, results)
        if args.nonce_reject > 0:
            _noisy_round(args, work, named, results)
        per_cert = certbot_seconds(pebble, args.certbot_runs) if args.certbot_runs > 0 else None
        if per_cert is None:
            print("certbot: not measured")
        for kind, rounds in results.items():
            if "nonces" in kind:
                continue
            if per_cert is not None and 1 in rounds:
                ours = rounds[1]["median"]
                print(
                    f"certbot certonly --standalone: {per_cert * 1000:.0f} ms per certificate (median of "
                    f"{args.certbot_runs}); certvault ({kind}) at 1 concurrent is {per_cert / ours:.1f}x faster "
                    "per certificate"
                )
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        pebble.stop()
        named.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

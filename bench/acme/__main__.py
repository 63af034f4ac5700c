"""python -m bench.acme [--orders-1 N] [--orders-16 N] [--orders-64 N] [--certbot-runs N] [--slots N]

Pebble 2.4.0 (PEBBLE_VA_NOSLEEP=1) validates DNS-01 against a local BIND9 that certvault updates
with TSIG-signed RFC 2136; the order engine runs in one worker with the shipped settings
(poll interval 0.5 s). "C concurrent orders" is a closed loop: C clients each request a
certificate, wait until the engine reports it stored, and request the next, so C orders are
always in flight. Latency is request → stored as the client sees it. certbot (`certonly
--standalone`, PyPI, own venv under ~/.cache) issues against the same Pebble in the same run.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from tests.servers.bind9 import Bind9
from tests.servers.pebble import Pebble

from certvault.auth.rbac import Actor
from certvault.config import load_settings
from certvault.container import App, build_app
from certvault.issuance import events
from certvault.issuance.requests import RequestSpec

ADMIN = Actor.system("bench", via="cli")
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "certvault-bench"


class Finished:
    """Order id → threading.Event, set by an ACME event subscriber when the order is stored or failed."""

    def __init__(self) -> None:
        self.waiting: dict[uuid.UUID, threading.Event] = {}
        self.failed: set[uuid.UUID] = set()
        self.lock = threading.Lock()

    def __call__(self, ctx: Any, event: events.AcmeEvent) -> None:
        if event.order_id is None:
            return
        if event.kind == events.FAILED:
            self.failed.add(event.order_id)
        with self.lock:
            done = self.waiting.setdefault(event.order_id, threading.Event())
        done.set()

    def event_for(self, order_id: uuid.UUID) -> threading.Event:
        with self.lock:
            return self.waiting.setdefault(order_id, threading.Event())


def _client(app: App, finished: Finished, account_id: uuid.UUID, dns_id: uuid.UUID, todo: list[int],
            latencies: list[float], lock: threading.Lock) -> None:
    while True:
        with lock:
            if not todo:
                return
            todo.pop()
        started = time.perf_counter()
        with app.transaction() as svc:
            spec = RequestSpec(account_id, [f"b{uuid.uuid4().hex[:10]}.bench.test"], challenge="dns-01",
                               dns_account_id=dns_id)
            order_id = svc.issuance.requests.request(ADMIN, spec).id
        if not finished.event_for(order_id).wait(120):
            raise RuntimeError(f"order {order_id} did not finish in 120 s")
        if order_id not in finished.failed:
            with lock:
                latencies.append(time.perf_counter() - started)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of another process (Pebble, named), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _engine_round(app: App, finished: Finished, account_id: uuid.UUID, dns_id: uuid.UUID, concurrency: int,
                  count: int, slots: int, others: dict[str, int]) -> dict[str, Any]:
    cpu_before = {"certvault": time.process_time(), **{k: _cpu_seconds(pid) for k, pid in others.items()}}
    worker = app.worker(concurrency=slots)
    thread = worker.start_background()
    todo, latencies, lock = list(range(count)), [], threading.Lock()
    failed_before = len(finished.failed)
    clients = [threading.Thread(target=_client, args=(app, finished, account_id, dns_id, todo, latencies, lock))
               for _ in range(concurrency)]
    start = time.perf_counter()
    try:
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        elapsed = time.perf_counter() - start
    finally:
        worker.stop()
        thread.join(30)
    cpu_after = {"certvault": time.process_time(), **{k: _cpu_seconds(pid) for k, pid in others.items()}}
    latencies.sort()
    return {"per_min": len(latencies) / elapsed * 60, "median": statistics.median(latencies) if latencies else 0,
            "p95": latencies[max(0, int(len(latencies) * 0.95) - 1)] if latencies else 0,
            "failed": len(finished.failed) - failed_before, "n": count,
            "cpu_ms": {k: (cpu_after[k] - cpu_before[k]) * 1000 / max(1, count) for k in cpu_after}}


def _certbot(pebble: Pebble, runs: int) -> float | None:
    venv = CACHE / "certbot-venv"
    if not (venv / "bin" / "certbot").exists():
        print("installing certbot into", venv, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "certbot"], timeout=600)
        if done.returncode != 0:
            return None
    times = []
    for _ in range(runs):
        work = Path(tempfile.mkdtemp(prefix="cv-certbot-"))
        args = [str(venv / "bin" / "certbot"), "certonly", "--standalone", "--non-interactive", "--agree-tos",
                "--register-unsafely-without-email", "--server", pebble.directory_url, "--no-verify-ssl",
                "--http-01-port", str(pebble.http_port), "--http-01-address", "127.0.0.1",
                "--config-dir", str(work / "c"), "--work-dir", str(work / "w"), "--logs-dir", str(work / "l"),
                "-d", f"c{uuid.uuid4().hex[:10]}.bench.test"]
        started = time.perf_counter()
        result = subprocess.run(args, capture_output=True, text=True, timeout=120)
        times.append(time.perf_counter() - started)
        shutil.rmtree(work, ignore_errors=True)
        if result.returncode != 0:
            print("certbot failed:", result.stderr[-500:])
            return None
    return statistics.median(times)


def _setup(app: App, pebble: Pebble, named: Bind9) -> tuple[uuid.UUID, uuid.UUID]:
    with app.transaction() as svc:
        account = svc.issuance.accounts.register(ADMIN, pebble.directory_url, None, True,
                                                 ca_bundle_pem=pebble.tls_ca.read_text())
        dns = svc.issuance.dns_accounts.add(ADMIN, "rfc2136", "bench", {
            "server": named.address, "key_name": named.key_name, "zone": "bench.test"},
            {"key_secret": named.secret})
        return account.id, dns.id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders-1", type=int, default=30)
    parser.add_argument("--orders-16", type=int, default=320)
    parser.add_argument("--orders-64", type=int, default=640)
    parser.add_argument("--certbot-runs", type=int, default=3)
    parser.add_argument("--slots", type=int, default=0, help="worker job slots (default: the shipped setting)")
    args, _ = parser.parse_known_args(sys.argv[2:] if len(sys.argv) > 1 and sys.argv[1] == "acme" else sys.argv[1:])
    work = Path(tempfile.mkdtemp(prefix="cv-bench-acme-"))
    named = Bind9(work / "bind", zones=("bench.test",)).start()
    pebble = Pebble(work / "pebble", dns_server=named.address).start()
    try:
        settings = load_settings(environ={}, overrides={"data_dir": str(work / "data")})
        app = build_app(settings)
        finished = Finished()
        app.extras["acme.subscribers"] = [finished]
        account_id, dns_id = _setup(app, pebble, named)
        slots = args.slots or settings.worker.concurrency
        assert pebble.proc is not None and named.proc is not None
        others = {"pebble": pebble.proc.pid, "named": named.proc.pid}
        print(f"machine: {os.cpu_count()} cores, load average before {os.getloadavg()[0]:.2f}; worker: {slots} "
              f"slots, poll interval {settings.worker.poll_interval:g} s, database SQLite", flush=True)
        results = {}
        for concurrency, count in ((1, args.orders_1), (16, args.orders_16), (64, args.orders_64)):
            if count <= 0:
                continue
            r = _engine_round(app, finished, account_id, dns_id, concurrency, count, slots, others)
            results[concurrency] = r
            cpu = ", ".join(f"{k} {v:.1f}" for k, v in r["cpu_ms"].items())
            print(f"certvault, {concurrency:>2} concurrent: {r['per_min']:7.0f} certificates/min, median "
                  f"{r['median'] * 1000:6.0f} ms, p95 {r['p95'] * 1000:6.0f} ms, {r['failed']} failed of {r['n']}"
                  f" (load {os.getloadavg()[0]:.2f}; CPU ms per certificate: {cpu})", flush=True)
        per_cert = _certbot(pebble, args.certbot_runs) if args.certbot_runs > 0 else None
        if per_cert is None:
            print("certbot: not measured")
        elif 1 in results:
            ours = results[1]["median"]
            print(f"certbot certonly --standalone: {per_cert * 1000:.0f} ms per certificate (median of "
                  f"{args.certbot_runs}); certvault at 1 concurrent is {per_cert / ours:.1f}x faster per certificate")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        app.close()
    finally:
        pebble.stop()
        named.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

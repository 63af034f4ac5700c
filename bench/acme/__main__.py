"""python -m bench.acme [--orders-1 N] [--orders-16 N] [--orders-64 N] [--certbot-runs N]

Pebble 2.4.0 (PEBBLE_VA_NOSLEEP=1) validates DNS-01 against a local BIND9 that certvault updates
with TSIG-signed RFC 2136; the order engine runs in one worker process at 1, 16 and 64 concurrent
orders. certbot (`certonly --standalone`, PyPI, own venv under ~/.cache) issues against the same
Pebble in the same run. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.servers.bind9 import Bind9
from tests.servers.pebble import Pebble

from certvault.auth.rbac import Actor
from certvault.config import load_settings
from certvault.container import build_app
from certvault.issuance.models import AcmeOrder
from certvault.issuance.requests import RequestSpec

ADMIN = Actor.system("bench", via="cli")
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "certvault-bench"


def _engine_round(app, account_id, dns_id, concurrency: int, count: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    worker = app.worker(concurrency=concurrency, poll_interval=0.005)
    thread = worker.start_background()
    ids = []
    start = time.perf_counter()
    try:
        for _ in range(count):
            with app.transaction() as svc:
                spec = RequestSpec(account_id, [f"b{uuid.uuid4().hex[:10]}.bench.test"], challenge="dns-01",
                                   dns_account_id=dns_id)
                ids.append(svc.issuance.requests.request(ADMIN, spec).id)
        while True:
            with app.transaction() as svc:
                rows = svc.session.query(AcmeOrder).filter(AcmeOrder.id.in_(ids)).all()
            if all(r.state in ("stored", "failed") for r in rows):
                break
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
    finally:
        worker.stop()
        thread.join(30)
    latencies = sorted((r.finished_at - r.created_at).total_seconds() for r in rows if r.state == "stored")
    failed = sum(r.state == "failed" for r in rows)
    return {"per_min": len(latencies) / elapsed * 60, "median": statistics.median(latencies) if latencies else 0,
            "p95": latencies[int(len(latencies) * 0.95) - 1] if latencies else 0, "failed": failed, "n": count}


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders-1", type=int, default=20)
    parser.add_argument("--orders-16", type=int, default=160)
    parser.add_argument("--orders-64", type=int, default=320)
    parser.add_argument("--certbot-runs", type=int, default=3)
    args, _ = parser.parse_known_args(sys.argv[2:] if len(sys.argv) > 1 and sys.argv[1] == "acme" else sys.argv[1:])
    work = Path(tempfile.mkdtemp(prefix="cv-bench-acme-"))
    named = Bind9(work / "bind", zones=("bench.test",)).start()
    pebble = Pebble(work / "pebble", dns_server=named.address).start()
    try:
        settings = load_settings(environ={}, overrides={"data_dir": str(work / "data")})
        app = build_app(settings)
        with app.transaction() as svc:
            account = svc.issuance.accounts.register(ADMIN, pebble.directory_url, None, True,
                                                     ca_bundle_pem=pebble.tls_ca.read_text())
            dns = svc.issuance.dns_accounts.add(ADMIN, "rfc2136", "bench", {
                "server": named.address, "key_name": named.key_name, "zone": "bench.test"},
                {"key_secret": named.secret})
        load = os.getloadavg()
        print(f"machine: {os.cpu_count()} cores, load average before {load[0]:.2f}", flush=True)
        results = {}
        for concurrency, count in ((1, args.orders_1), (16, args.orders_16), (64, args.orders_64)):
            r = _engine_round(app, account.id, dns.id, concurrency, count)
            results[concurrency] = r
            print(f"certvault, {concurrency:>2} concurrent: {r['per_min']:7.0f} certificates/min, median "
                  f"{r['median'] * 1000:6.0f} ms, p95 {r['p95'] * 1000:6.0f} ms, {r['failed']} failed of {r['n']}",
                  flush=True)
        per_cert = _certbot(pebble, args.certbot_runs)
        if per_cert is None:
            print("certbot: not measured")
        else:
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

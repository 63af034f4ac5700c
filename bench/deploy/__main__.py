"""Deploy benchmark: `python -m bench.deploy [--rounds 5] [--targets 50] [--concurrency 8]`.

1. Renewed -> verified: one certificate mapped (auto) to an SSH target in front of nginx (a real sshd on
   loopback, tests/servers/sshd.py). A new version is stored and `certificate.renewed` published; the time
   runs until the deployment is verified (the new serial seen in a TLS handshake with nginx), through the
   event consumer, the deploy job, SFTP, `nginx -t`, `nginx -s reload` and the verification. `--rounds` times.
2. Fan-out: one certificate mapped to `--targets` SSH targets on the same sshd (one directory each; test
   command `test -s`, no reload), deployed with one `deploy run`; a worker with `--concurrency` slots
   bounds how many run at once. Deployments per minute = targets / wall time until all are verified.

Everything runs on this machine (SQLite, one worker process in-process). It prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.deploy.conftest import Authority, ssh_options, start_nginx, store
from tests.servers.process import stop
from tests.servers.sshd import Sshd

from certvault.auth.rbac import Actor
from certvault.config import load_settings
from certvault.container import build_app
from certvault.issuance import events as issuance_events

ADMIN = Actor.system("bench", via="cli")
FINAL = ("verified", "rolled_back", "failed")


def _wait_final(app: Any, entry_id: Any, count: int, timeout: float = 600) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.transaction() as svc:
            runs = [r for r in svc.deploy.deployments(ADMIN, entry_id, limit=1000)]
            active = [r for r in runs if r.status not in FINAL]
            if len(runs) >= count and not active:
                return runs
        time.sleep(0.02)
    raise TimeoutError("deployments did not finish")


def renewed_to_verified(app: Any, sshd: Sshd, ca: Authority, work: Path, rounds: int) -> list[float]:
    chain, key, _ = ca.leaf()
    site = start_nginx(work / "nginx", chain, key)
    try:
        with app.transaction() as svc:
            svc.integrations.add(ADMIN, "deploy", "ssh", "web", ssh_options(sshd, site),
                                 {"private_key": sshd.client_key.read_text()})
            entry_id = store(svc, chain, key)
            svc.deploy.map(ADMIN, entry_id, "web", auto=True)
        times = []
        for n in range(1, rounds + 1):
            new_chain, new_key, serial = ca.leaf()
            with app.transaction() as svc:
                store(svc, new_chain, new_key, entry_id)
                issuance_events.publish(svc.ctx, issuance_events.RENEWED, ["localhost"], "bench CA",
                                        certificate_id=entry_id, serial=serial)
            started = time.monotonic()
            runs = _wait_final(app, entry_id, n)
            elapsed = time.monotonic() - started
            latest = max(runs, key=lambda r: r.created_at)
            if latest.status != "verified" or latest.serial != serial:
                raise RuntimeError(f"round {n}: {latest.status} {latest.reason}")
            times.append(elapsed)
        return times
    finally:
        stop(site.proc)


def fan_out(app: Any, sshd: Sshd, ca: Authority, work: Path, targets: int) -> tuple[float, int]:
    chain, key, _ = ca.leaf("fanout.example")
    with app.transaction() as svc:
        entry_id = store(svc, chain, key)
        for i in range(targets):
            directory = work / "sites" / f"site-{i:03d}"
            options = {"host": "127.0.0.1", "port": sshd.port, "user": sshd.user,
                       "known_host": sshd.known_host_line(), "fullchain_path": str(directory / "fullchain.pem"),
                       "key_path": str(directory / "privkey.pem"), "mode": "0600",
                       "test_command": f"test -s {directory / 'fullchain.pem'}"}
            svc.integrations.add(ADMIN, "deploy", "ssh", f"site-{i:03d}", options,
                                 {"private_key": sshd.client_key.read_text()})
            svc.deploy.map(ADMIN, entry_id, f"site-{i:03d}", auto=False)
    started = time.monotonic()
    with app.transaction() as svc:
        svc.deploy.run(ADMIN, entry_id)
    runs = _wait_final(app, entry_id, targets)
    return time.monotonic() - started, sum(r.status == "verified" for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.deploy")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--targets", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    args, _ = parser.parse_known_args()
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        work = Path(tmp)
        app = build_app(load_settings(overrides={"data_dir": str(work / "data"),
                                                 "worker": {"concurrency": args.concurrency}}))
        sshd = Sshd(work / "sshd").start()
        worker = app.worker(poll_interval=0.02)
        thread = worker.start_background()
        ca = Authority.make()
        try:
            times = renewed_to_verified(app, sshd, ca, work, args.rounds)
            print(f"renewed -> verified over SSH (nginx -t, reload, TLS check), {len(times)} rounds: "
                  f"median {statistics.median(times):.2f} s, min {min(times):.2f} s, max {max(times):.2f} s")
            wall, verified = fan_out(app, sshd, ca, work, args.targets)
            print(f"{args.targets} SSH targets (one sshd), {args.concurrency} at a time: {verified} verified in "
                  f"{wall:.1f} s = {verified / wall * 60:.0f} deployments/minute")
        finally:
            worker.stop()
            thread.join(30)
            sshd.stop()
            app.close()


if __name__ == "__main__":
    main()

"""A worker killed (kill -9) in the middle of a deployment: another worker takes the job over when the lease
expires and finishes it from the last committed step, keeping the backup of what was there before; killed in
the middle of a rollback, the next worker rolls back again and the old certificate is served."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from certvault.auth.rbac import Actor
from tests.deploy.conftest import Authority, Nginx, ssh_options, store
from tests.servers.certvault_server import BIN
from tests.servers.process import start, stop, wait_until
from tests.servers.sshd import Sshd

ADMIN = Actor.system("test-admin", via="cli")
ENV = {"CERTVAULT_WORKER_LEASE_SECONDS": "3", "CERTVAULT_WORKER_POLL_INTERVAL": "0.1"}


def _status(app: Any, run_id: Any) -> Any:
    with app.transaction() as svc:
        return svc.deploy.deployment(ADMIN, run_id)


def test_worker_killed_mid_deployment_resumes(sqlite_app: Any, sshd: Sshd, nginx: Nginx, test_ca: Authority,
                                              tmp_path: Path) -> None:
    started, release = tmp_path / "test-started", tmp_path / "release"
    # The first run of the test command signals it started and hangs; the worker is killed there, with the
    # new files already in place. Once released, the command passes at once.
    script = tmp_path / "test.sh"
    script.write_text(f"#!/bin/sh\ntouch {started}\nwhile [ ! -e {release} ]; do sleep 0.2; done\n"
                      f"exec {nginx.command('-t')}\n")
    script.chmod(0o755)
    original = nginx.fullchain.read_bytes()
    with sqlite_app.transaction() as svc:
        svc.integrations.add(ADMIN, "deploy", "ssh", "web", ssh_options(sshd, nginx, test_command=str(script)),
                             {"private_key": sshd.client_key.read_text()})
        chain, key, serial = test_ca.leaf()
        entry_id = store(svc, chain, key)
        [run] = svc.deploy.run(ADMIN, entry_id, "web")
        run_id = run.id
    data = Path(sqlite_app.settings.data_dir)
    first = start([str(BIN / "certvault"), "--data-dir", str(data), "worker"], tmp_path / "worker-1.log", env=ENV)
    second = None
    try:
        wait_until(started.exists, 120, "the deployment's test command", first, tmp_path / "worker-1.log")
        assert _status(sqlite_app, run_id).status == "deploying"
        assert nginx.fullchain.read_bytes() == chain  # half-way: the new files are written, not yet tested
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        release.touch()
        second = start([str(BIN / "certvault"), "--data-dir", str(data), "worker"], tmp_path / "worker-2.log",
                       env=ENV)
        deadline = time.monotonic() + 180
        while _status(sqlite_app, run_id).status not in ("verified", "rolled_back", "failed"):
            assert time.monotonic() < deadline, (tmp_path / "worker-2.log").read_text()[-2000:]
            time.sleep(0.3)
        done = _status(sqlite_app, run_id)
        assert done.status == "verified", done.reason
        assert done.attempts >= 3  # deploy (killed), deploy again, verify
        assert nginx.serves(serial)
        backup = done.receipt[f"file:{nginx.fullchain}"]
        assert Path(backup).read_bytes() == original  # the backup is of what was there before, not of the new files
    finally:
        for proc in (first, second):
            if proc is not None:
                stop(proc)


def test_worker_killed_mid_rollback_rolls_back(sqlite_app: Any, sshd: Sshd, nginx: Nginx, test_ca: Authority,
                                               tmp_path: Path) -> None:
    started, release, calls = tmp_path / "rollback-started", tmp_path / "release", tmp_path / "calls"
    # The reload command does nothing the first time (so nginx keeps the old certificate and the verification
    # fails); the second time (the rollback's) it signals and hangs; later it reloads.
    script = tmp_path / "reload.sh"
    script.write_text(f"""#!/bin/sh
echo x >> {calls}
n=$(wc -l < {calls})
if [ "$n" -eq 1 ]; then exit 0; fi
if [ "$n" -eq 2 ]; then touch {started}; while [ ! -e {release} ]; do sleep 0.2; done; fi
exec {nginx.command("-s", "reload")}
""")
    script.chmod(0o755)
    original, old_serial = nginx.fullchain.read_bytes(), nginx.served_serial()
    with sqlite_app.transaction() as svc:
        svc.integrations.add(ADMIN, "deploy", "ssh", "web", ssh_options(sshd, nginx, reload_command=str(script),
                                                                         verify_timeout=2),
                             {"private_key": sshd.client_key.read_text()})
        chain, key, serial = test_ca.leaf()
        entry_id = store(svc, chain, key)
        [run] = svc.deploy.run(ADMIN, entry_id, "web")
        run_id = run.id
    data = Path(sqlite_app.settings.data_dir)
    first = start([str(BIN / "certvault"), "--data-dir", str(data), "worker"], tmp_path / "worker-1.log", env=ENV)
    second = None
    try:
        wait_until(started.exists, 120, "the rollback's reload", first, tmp_path / "worker-1.log")
        assert _status(sqlite_app, run_id).status == "rolling_back"
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        release.touch()
        second = start([str(BIN / "certvault"), "--data-dir", str(data), "worker"], tmp_path / "worker-2.log",
                       env=ENV)
        deadline = time.monotonic() + 180
        while _status(sqlite_app, run_id).status not in ("verified", "rolled_back", "failed"):
            assert time.monotonic() < deadline, (tmp_path / "worker-2.log").read_text()[-2000:]
            time.sleep(0.3)
        done = _status(sqlite_app, run_id)
        assert done.status == "rolled_back", done.reason
        assert done.served_serial == old_serial and f"serves serial {old_serial}" in (done.reason or "")
        assert nginx.fullchain.read_bytes() == original
        assert nginx.serves(old_serial) and old_serial != serial
    finally:
        for proc in (first, second):
            if proc is not None:
                stop(proc)

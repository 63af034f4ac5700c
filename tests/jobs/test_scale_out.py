"""Scale-out on one PostgreSQL: two API servers and two workers; one worker is SIGKILLed mid-job.

Every one of 1,000 jobs takes effect exactly once and every periodic tick runs once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from certvault.container import App, build_app
from tests.conftest import create_login, make_settings
from tests.servers.certvault_server import BIN
from tests.servers.postgres import PostgresServer
from tests.servers.process import free_port, start, stop, wait_until

ROOT = Path(__file__).resolve().parents[2]
JOBS = 1000


@pytest.fixture
def cluster(postgres_server: PostgresServer, postgres_template: tuple[str, Path],
            tmp_path: Path) -> Iterator[tuple[App, dict[str, str], Path]]:
    db = f"scale_{uuid.uuid4().hex[:8]}"
    url = postgres_server.create_database(db, template=postgres_template[0])
    data = tmp_path / "shared"
    shutil.copytree(postgres_template[1], data)
    app = build_app(make_settings(data, url), run_migrations=False)
    with app.engine.begin() as conn:
        conn.execute(text("CREATE TABLE probe_effects (job_key text NOT NULL, worker text NOT NULL)"))
        conn.execute(text("CREATE TABLE probe_ticks (tick text NOT NULL, worker text NOT NULL)"))
    env = {"CERTVAULT_DB_URL": url, "CERTVAULT_WORKER_JOB_MODULES": "tests.jobs.probe_jobs",
           "CERTVAULT_WORKER_LEASE_SECONDS": "3", "CERTVAULT_WORKER_CONCURRENCY": "4",
           "CERTVAULT_WORKER_POLL_INTERVAL": "0.1", "PYTHONPATH": str(ROOT)}
    yield app, env, data
    app.close()
    postgres_server.drop_database(db)


def _process_dir(base: Path, name: str, shared: Path) -> Path:
    """Each process has its own data directory (own TLS files) holding the same master key."""
    directory = base / name
    directory.mkdir()
    shutil.copy2(shared / "master.key", directory / "master.key")
    return directory


def _count(app: App, sql: str) -> int:
    with app.engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_two_servers_and_two_workers_share_one_postgres(cluster: tuple[App, dict[str, str], Path],
                                                         tmp_path: Path) -> None:
    app, env, shared = cluster
    procs = []
    try:
        servers = []
        for name in ("server-a", "server-b"):
            directory, port = _process_dir(tmp_path, name, shared), free_port()
            proc = start([str(BIN / "certvault"), "--data-dir", str(directory), "serve", "--no-worker",
                          "--port", str(port)], tmp_path / f"{name}.log", env=env)
            procs.append(proc)
            servers.append((directory, port, proc))
        workers = {}
        for name in ("worker-a", "worker-b"):
            directory = _process_dir(tmp_path, name, shared)
            proc = start([str(BIN / "certvault"), "--data-dir", str(directory), "worker"],
                         tmp_path / f"{name}.log", env=env)
            procs.append(proc)
            workers[name] = proc
        for directory, port, proc in servers:
            wait_until(lambda d=directory, p=port: _healthy(d, p), 60, "certvault serve", proc)

        with app.transaction() as svc:
            for i in range(JOBS):  # early jobs hold their transaction longer: the kill lands among them
                svc.enqueue("probe.effect", {"key": f"job-{i}", "hold": 0.1 if i < 300 else 0.01})

        # Kill worker-a with SIGKILL while it holds running jobs.
        victim = workers["worker-a"]
        victim_id = _wait_for_running_job_of(app, victim.pid)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        in_flight = _count(app, f"SELECT count(*) FROM jobs WHERE status='running' AND locked_by='{victim_id}'")
        assert in_flight > 0  # the kill landed mid-job

        # Both API servers keep answering while the remaining worker drains the queue.
        token = create_login(app, "auditor").token  # one account, one database: valid on both servers
        for directory, port, _ in servers:
            summary = _get_json(directory, port, "/api/v1/jobs/summary", token)
            assert set(summary["counts"]) <= {"queued", "running", "done", "failed"}

        wait_until(lambda: _count(app, "SELECT count(*) FROM jobs WHERE name='probe.effect' AND status='done'")
                   == JOBS, 120, "the queue to drain")
        duplicates = _count(app, "SELECT count(*) FROM (SELECT job_key FROM probe_effects GROUP BY job_key "
                                 "HAVING count(*) > 1) d")
        assert (_count(app, "SELECT count(DISTINCT job_key) FROM probe_effects"), duplicates) == (JOBS, 0)
        assert _count(app, f"SELECT count(*) FROM probe_effects WHERE worker='{victim_id}'") > 0
        assert _count(app, "SELECT count(*) FROM jobs WHERE name='probe.effect' AND attempts > 1") >= in_flight

        # Periodic ticks: each enqueued tick ran exactly once, none missed while the worker lived.
        time.sleep(2.5)
        wait_until(lambda: _count(app, "SELECT count(*) FROM jobs WHERE name='probe.tick' AND status <> 'done'")
                   == 0, 30, "ticks to finish")
        # One statement, one snapshot: the schedule keeps ticking while this reads (a tick may be enqueued,
        # not yet run), so the counts are compared within the same instant.
        with app.engine.connect() as conn:
            scheduled, enqueued, done, ran, distinct = conn.execute(text(
                "SELECT (SELECT ticks FROM job_schedules WHERE name='probe.tick'), "
                "(SELECT count(*) FROM jobs WHERE name='probe.tick'), "
                "(SELECT count(*) FROM jobs WHERE name='probe.tick' AND status='done'), "
                "(SELECT count(*) FROM probe_ticks), (SELECT count(DISTINCT tick) FROM probe_ticks)")).one()
        assert ran >= 3 and distinct == ran  # no tick ran twice
        assert scheduled == enqueued  # every tick the schedule counted was enqueued, once
        assert done == ran and enqueued - done <= 1  # each finished tick took effect; at most the newest waits
    finally:
        for proc in procs:
            stop(proc)


def _wait_for_running_job_of(app: App, pid: int) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with app.engine.connect() as conn:
            row = conn.execute(text("SELECT locked_by FROM jobs WHERE status='running' AND locked_by LIKE :p "
                                    "AND name='probe.effect' LIMIT 1"), {"p": f"%:{pid}:%"}).first()
        if row and _count(app, "SELECT count(*) FROM probe_effects") > 50:
            return str(row[0])
        time.sleep(0.005)
    raise TimeoutError("worker never ran a job")


def _healthy(directory: Path, port: int) -> bool:
    try:
        _get_json(directory, port, "/api/v1/health", None)
        return True
    except OSError:
        return False


def _get_json(directory: Path, port: int, path: str, token: str | None) -> dict:  # type: ignore[type-arg]
    import ssl

    request = urllib.request.Request(f"https://127.0.0.1:{port}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context(cafile=str(directory / "tls" / "ca.pem"))
    with urllib.request.urlopen(request, context=context, timeout=5) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]

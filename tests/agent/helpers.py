"""Queue agent jobs on a live server's database (what the deploy engine and issuance do in-process) and wait for
their outcome."""

from __future__ import annotations

import time
import uuid
from functools import cache
from typing import Any

from certvault.config import load_settings
from certvault.container import App, build_app
from tests.servers.certvault_server import LiveServer


@cache
def _app(data_dir: str) -> App:
    return build_app(load_settings(environ={}, overrides={"data_dir": data_dir}), run_migrations=False)


def submit(
    server: LiveServer, agent: str, kind: str, payload: dict[str, Any], secret: bytes | None = None
) -> uuid.UUID:
    with _app(str(server.data_dir)).transaction() as svc:
        return svc.agents.submit(agent, kind, payload, secret=secret)


def wait_job(server: LiveServer, job_id: uuid.UUID, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _app(str(server.data_dir)).transaction() as svc:
            job = svc.agents.job(job_id)
            if job.state in ("done", "failed"):
                return {"state": job.state, "error": job.error, "result": dict(job.result), "attempts": job.attempts}
        time.sleep(0.2)
    raise TimeoutError(f"agent job {job_id} did not finish in {timeout}s")

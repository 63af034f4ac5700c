"""certbot `certonly --standalone` (PyPI, in its own venv under ~/.cache) against the same Pebble."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.servers.pebble import Pebble

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "certvault-bench"


def certbot_seconds(pebble: Pebble, runs: int) -> float | None:
    """Median seconds per certificate, or None when certbot cannot be installed or fails."""
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

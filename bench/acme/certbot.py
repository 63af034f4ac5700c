"""certbot (PyPI, with its RFC 2136 plugin, in its own venv under ~/.cache): `certonly --standalone` against the
same Pebble (bench.acme); bench.cli runs it with dns-01 over RFC 2136."""

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
PACKAGES = ("certbot", "certbot-dns-rfc2136")  # the plugin answers dns-01 over RFC 2136, as certvault does


def certbot_command() -> Path | None:
    """certbot with its RFC 2136 plugin in a venv of its own, installed on first use; None when pip fails."""
    venv = CACHE / "certbot-venv"
    stamp = venv / "installed.txt"  # what was installed: a venv made before the plugin gets it added
    if not stamp.exists() or stamp.read_text().split() != list(PACKAGES):
        print("installing", " ".join(PACKAGES), "into", venv, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *PACKAGES], timeout=600)
        if done.returncode != 0:
            return None
        stamp.write_text("\n".join(PACKAGES))
    return venv / "bin" / "certbot"


def certbot_seconds(pebble: Pebble, runs: int) -> float | None:
    """Median seconds per certificate, or None when certbot cannot be installed or fails."""
    certbot = certbot_command()
    if certbot is None:
        return None
    times = []
    for _ in range(runs):
        work = Path(tempfile.mkdtemp(prefix="cv-certbot-"))
        args = [str(certbot), "certonly", "--standalone", "--non-interactive", "--agree-tos",
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

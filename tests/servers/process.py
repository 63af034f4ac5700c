"""Start a server process, wait until it answers, stop it by PID. Loopback only."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_until(check: Callable[[], bool], timeout: float = 20.0, what: str = "server",
               proc: subprocess.Popen[bytes] | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {_tail(log)}")
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not become ready in {timeout}s: {_tail(log)}")


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return log.read_text(errors="replace")[-2000:]


def start(args: Sequence[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None,
          user: str | None = None) -> subprocess.Popen[bytes]:
    """Start a process in its own session (so stop() can kill its whole group)."""
    fh = open(log, "ab")  # noqa: SIM115 - owned by the process for its lifetime
    kwargs: dict[str, object] = {}
    if user and os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        kwargs.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
    return subprocess.Popen(
        list(args), stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=cwd,
        start_new_session=True, **kwargs,  # type: ignore[arg-type]
    )


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


def which(name: str, *fallbacks: str) -> str:
    for candidate in (name, *fallbacks):
        found = shutil.which(candidate)
        if found:
            return found
        if Path(candidate).exists():
            return candidate
    raise FileNotFoundError(f"{name} is not installed (make test installs it)")

"""A real `certvault serve` whose agent certificates live 60 s (rotation within a test), and helpers that run
the real `certvault-agent` program against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.certvault_server import LiveServer, remove_live_server, start_live_server
from tests.servers.process import start, stop

AGENT = str(Path(sys.executable).parent / "certvault-agent")


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = start_live_server({"CERTVAULT_AGENTS_CERT_SECONDS": "60"})
    yield live
    remove_live_server(live)


def token(server: LiveServer, name: str, expires_in: str = "1h") -> str:
    return str(
        json.loads(server.cli("agent", "token", "create", name, "--expires-in", expires_in, "--json").stdout)["token"]
    )


def agent_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [AGENT, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("CERTVAULT_")},
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"certvault-agent {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def enroll(server: LiveServer, name: str, directory: Path) -> Path:
    agent_cli(
        "enroll",
        "--server",
        server.url,
        "--token",
        token(server, name),
        "--ca-file",
        str(server.ca_file),
        "--dir",
        str(directory),
    )
    return directory


def status(directory: Path) -> dict[str, object]:
    return dict(json.loads(agent_cli("status", "--dir", str(directory), "--json", check=False).stdout))


def run_agent(directory: Path, *extra: str) -> subprocess.Popen[bytes]:
    return start([AGENT, "run", "--dir", str(directory), *extra], directory / "agent.log")


def agents(server: LiveServer) -> dict[str, dict[str, object]]:
    return {a["name"]: a for a in json.loads(server.cli("agent", "list", "--json").stdout)}


__all__ = ["agent_cli", "agents", "enroll", "run_agent", "status", "stop", "token"]

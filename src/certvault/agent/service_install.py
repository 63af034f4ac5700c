"""`certvault-agent install-service`: a systemd unit on Linux, sc.exe service registration on Windows."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from certvault.agent import windows

UNIT_NAME = "certvault-agent.service"


def executable() -> str:
    """The certvault-agent program the service runs: the one beside this Python, else on PATH."""
    beside = Path(sys.executable).parent / ("certvault-agent.exe" if sys.platform == "win32" else "certvault-agent")
    return str(beside if beside.exists() else shutil.which("certvault-agent") or beside)


def systemd_unit(agent_dir: Path, program: str | None = None) -> str:
    program = program or executable()
    return "\n".join([
        "[Unit]",
        "Description=certvault agent (certificate deployment and http-01 for certvault)",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f'ExecStart="{program}" run --dir "{agent_dir}"',
        "Restart=on-failure",
        "RestartSec=30",
        "UMask=0077",
        "NoNewPrivileges=true",
        "PrivateTmp=true",
        "ProtectHome=read-only",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ])


def write_unit(unit: str, unit_dir: Path) -> Path:
    unit_dir.mkdir(parents=True, exist_ok=True)
    path = unit_dir / UNIT_NAME
    path.write_text(unit)
    path.chmod(0o644)
    return path


def windows_commands(agent_dir: Path, program: str | None = None) -> list[list[str]]:
    return windows.service_commands(program or executable(), str(agent_dir))


def run_commands(commands: list[list[str]], print_only: bool) -> int:
    for command in commands:
        if print_only:
            print(subprocess.list2cmdline(command))
            continue
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            sys.stderr.write(f"{subprocess.list2cmdline(command)} failed: {done.stdout}{done.stderr}\n")
            return done.returncode
    return 0

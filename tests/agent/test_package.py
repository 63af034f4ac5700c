"""`make agent-package` builds the agent package that certvault serves; its Linux installer puts the wheel in a
virtualenv and enrols the agent, which then runs with nothing of the server installed."""

from __future__ import annotations

import io
import site
import ssl
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx

from tests.agent.conftest import token
from tests.servers.certvault_server import LiveServer

ROOT = Path(__file__).resolve().parents[2]


def test_package_is_built_served_and_installs(server: LiveServer, tmp_path: Path) -> None:
    built = subprocess.run(["make", "-s", "agent-package", f"DATA_DIR={server.data_dir}", f"PYTHON={sys.executable}"],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    with httpx.Client(base_url=server.url, verify=ssl.create_default_context(cafile=str(server.ca_file))) as client:
        download = client.get("/api/v1/agent/package")
    assert download.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    names = set(archive.namelist())
    assert {"certvault-agent/install.sh", "certvault-agent/install.ps1", "certvault-agent/README.txt",
            "certvault-agent/certvault_agent-0.1.0-py3-none-any.whl"} <= names
    archive.extractall(tmp_path)
    wheel = zipfile.ZipFile(tmp_path / "certvault-agent" / "certvault_agent-0.1.0-py3-none-any.whl")
    packaged = {n for n in wheel.namelist() if n.endswith(".py")}
    assert packaged == {"certvault/__init__.py"} | {f"certvault/agent/{p.name}" for p in
                                                     (ROOT / "src/certvault/agent").glob("*.py")}

    prefix = tmp_path / "opt"
    subprocess.run([sys.executable, "-m", "venv", str(prefix)], check=True, timeout=300)
    # no index here (loopback only): httpx and cryptography come from the test's environment, certvault does not
    deps = Path(site.getsitepackages()[0])
    (next(prefix.glob("lib/python3*/site-packages")) / "deps.pth").write_text(f"{deps}\n")
    state = tmp_path / "state"
    env = {"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "CERTVAULT_AGENT_PREFIX": str(prefix),
           "CERTVAULT_AGENT_DIR": str(state), "CERTVAULT_AGENT_NO_SERVICE": "1",
           "CERTVAULT_AGENT_PIP_OPTIONS": "--no-deps --no-index"}
    installed = subprocess.run(["sh", str(tmp_path / "certvault-agent" / "install.sh"), "--server", server.url,
                                "--token", token(server, "packaged"), "--ca-file", str(server.ca_file)],
                               env=env, capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "enrolled as packaged" in installed.stdout
    status = subprocess.run([str(prefix / "bin" / "certvault-agent"), "status", "--dir", str(state)],
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0 and "name: packaged" in status.stdout
    alone = subprocess.run([str(prefix / "bin" / "python"), "-c", "import certvault.agent.main, certvault.agents"],
                           capture_output=True, text=True, timeout=60)
    assert "No module named 'certvault.agents'" in alone.stderr  # the server is not there, the agent is
    usage = subprocess.run(["sh", str(tmp_path / "certvault-agent" / "install.sh"), "--server", server.url],
                           capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "usage: install.sh" in usage.stderr

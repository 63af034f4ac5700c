"""`certvault serve --workers N --access-log`: several processes share the port, all stop together."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request

from tests.servers.certvault_server import remove_live_server, start_live_server
from tests.servers.process import wait_until


def _children(pid: int) -> list[int]:
    found = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in found.split()]


def test_two_server_processes_answer_log_requests_and_stop_together() -> None:
    live = start_live_server(None, "--no-worker", "--workers", "2", "--access-log")
    try:
        assert live.proc is not None
        children = _children(live.proc.pid)
        assert len(children) == 2
        token = live.token()
        for _ in range(20):  # new connections each time: the kernel spreads them over both processes
            request = urllib.request.Request(live.url + "/api/v1/users", headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, context=live.ssl_context(), timeout=10) as answer:
                assert answer.status == 200 and json.loads(answer.read())[0]["username"] == "admin"
        log = (live.data_dir / "serve.log").read_text()
        assert "2 processes" in log and '"GET /api/v1/users HTTP/1.1" 200' in log
        os.kill(children[0], signal.SIGKILL)  # one dies: the parent stops the other and exits non-zero
        assert live.proc.wait(timeout=20) == 1
        wait_until(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in children), 10, "children to exit")
    finally:
        remove_live_server(live)

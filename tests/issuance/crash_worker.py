"""A real worker process that kills itself (SIGKILL) at one engine transition, before its commit.

    python -m tests.issuance.crash_worker DATA_DIR POINT [DATABASE_URL]
"""

from __future__ import annotations

import os
import signal
import sys

from certvault.config import load_settings
from certvault.container import build_app
from certvault.plugins.registry import PluginRegistry
from tests.servers.pebble import ChallTestSrvDNS


def main() -> None:
    data_dir, point = sys.argv[1], sys.argv[2]
    overrides: dict[str, object] = {"data_dir": data_dir, "worker": {"lease_seconds": 1},
                                    "security": {"password_min_length": 8}}
    if len(sys.argv) > 3:
        overrides["db"] = {"url": sys.argv[3]}
    settings = load_settings(environ={}, overrides=overrides)
    app = build_app(settings, run_migrations=False)
    registry = PluginRegistry()
    registry.register("dns", "challtestsrv", ChallTestSrvDNS)
    app.extras["plugins"] = registry

    def crash(reached: str) -> None:
        if reached == point:
            os.kill(os.getpid(), signal.SIGKILL)

    app.extras["acme.fault_hook"] = crash
    app.worker(poll_interval=0.02, concurrency=1).run()


if __name__ == "__main__":
    main()

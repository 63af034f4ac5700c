"""A real worker process that kills itself (SIGKILL) at one engine transition, before its commit.

    python -m tests.issuance.crash_worker DATA_DIR POINT [DATABASE_URL]
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from certvault.config import load_settings
from certvault.container import build_app
from certvault.issuance import steps
from certvault.issuance.engine import OrderEngine
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
    app.process.plugins = registry
    # The engine's two kinds of step, wrapped: SIGKILL as soon as one reaches `point`, before its commit.
    run_step, key_and_mark = OrderEngine._run_step, steps.key_and_mark

    def crash_at(view: Any, outcome: Any) -> Any:
        if outcome is not None and f"{view.state}->{outcome.state}" == point:
            os.kill(os.getpid(), signal.SIGKILL)
        return outcome

    OrderEngine._run_step = lambda self, ctx, view, resumed: crash_at(  # type: ignore[method-assign]
        view, run_step(self, ctx, view, resumed))
    steps.key_and_mark = lambda view, now: crash_at(view, key_and_mark(view, now))
    app.worker(poll_interval=0.02, concurrency=1).run()


if __name__ == "__main__":
    main()

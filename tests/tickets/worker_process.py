"""A certvault job worker as a separate process, for the crash and concurrency tests.

    python -m tests.tickets.worker_process DATA_DIR worker    # run queued jobs (tickets.sync) until idle
    python -m tests.tickets.worker_process DATA_DIR sync      # one TicketSync, like `certvault tickets sync`

Fault points, test-only, in a subclass of the account's help-desk plugin registered in this process:
CERTVAULT_TEST_KILL_AFTER_CREATE=1 kills the process with SIGKILL right after the help desk answered a
create (before certvault stores the number); CERTVAULT_TEST_SLOW_CREATE=SECONDS waits before each create.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from certvault.container import build_app
from certvault.tickets.sync import TicketSync
from tests.conftest import make_settings

PLUGINS = ("servicenow", "servicedeskplus", "jira")


def _faulty(base: type[Any]) -> type[Any]:
    class Faulty(base):  # type: ignore[misc, valid-type]
        def create(self, draft: Any) -> Any:
            time.sleep(float(os.environ.get("CERTVAULT_TEST_SLOW_CREATE") or 0))
            ticket = super().create(draft)
            if os.environ.get("CERTVAULT_TEST_KILL_AFTER_CREATE"):
                os.kill(os.getpid(), signal.SIGKILL)
            return ticket

    return Faulty


def main(data_dir: str, mode: str) -> None:
    app = build_app(make_settings(Path(data_dir)), run_migrations=False)
    for name in PLUGINS:
        app.process.plugins.register("ticketing", name, _faulty(app.process.plugins.get("ticketing", name).cls))
    lease = float(os.environ.get("CERTVAULT_TEST_LEASE") or 120)
    if mode == "worker":
        app.worker(lease_seconds=lease, concurrency=1, worker_id=f"test-worker-{os.getpid()}").run_until_idle(120)
    else:
        report = TicketSync(app.transaction, f"test-sync-{os.getpid()}", lease=timedelta(seconds=lease)).run()
        sys.stdout.write(json.dumps(report.as_dict()) + "\n")
    app.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

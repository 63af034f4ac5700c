"""python -m bench.acme.worker DATA_DIR DATABASE_URL SLOTS REPORT_PORT

What `certvault worker` runs (the app's job worker with its handlers), plus one ACME event
subscriber that tells the benchmark over UDP (127.0.0.1:REPORT_PORT) when an order is stored or
failed, once its transaction has committed. Stops on SIGTERM.
"""

from __future__ import annotations

import signal
import socket
import sys
from typing import Any

from sqlalchemy import event

from certvault.config import load_settings
from certvault.container import build_app
from certvault.issuance import events


def reporter(port: int) -> Any:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def report(ctx: Any, acme_event: events.AcmeEvent) -> None:
        if acme_event.order_id is None or acme_event.kind not in (events.ISSUED, events.RENEWED, events.FAILED):
            return
        message = f"{acme_event.kind} {acme_event.order_id}".encode()
        event.listen(ctx.session, "after_commit", lambda _session: sock.sendto(message, ("127.0.0.1", port)),
                     once=True)

    return report


def main() -> None:
    data_dir, url, slots, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    settings = load_settings(environ={}, overrides={"data_dir": data_dir, "db": {"url": url}})
    app = build_app(settings, run_migrations=False)
    app.extras["acme.subscribers"] = [reporter(port)]
    worker = app.worker(concurrency=slots)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    print("ready", flush=True)
    worker.run()
    app.close()


if __name__ == "__main__":
    main()

"""python -m bench.acme.worker DATA_DIR DATABASE_URL SLOTS REPORT_PORT

What `certvault worker` runs (the app's job worker with its handlers), plus a watch on its sessions
that tells the benchmark over UDP (127.0.0.1:REPORT_PORT) when an order is stored or failed, once
the transaction appending that event has committed. Stops on SIGTERM.
"""

from __future__ import annotations

import signal
import socket
import sys
from typing import Any

from bench.acme.processes import watch_orders
from certvault.config import load_settings
from certvault.container import build_app


def reporter(port: int) -> Any:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return lambda kind, order_id: sock.sendto(f"{kind} {order_id}".encode(), ("127.0.0.1", port))


def main() -> None:
    data_dir, url, slots, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    settings = load_settings(environ={}, overrides={"data_dir": data_dir, "db": {"url": url}})
    app = build_app(settings, run_migrations=False)
    watch_orders(app.sessions, reporter(port))
    worker = app.worker(concurrency=slots)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    print("ready", flush=True)
    worker.run()
    app.close()


if __name__ == "__main__":
    main()

"""Running uvicorn for `certvault serve`: one process, or several sharing the port (`--workers N`).

Several processes: the parent prepares everything (data directory, migrations, keys, TLS files),
closes its database connections, then forks N children. Each child listens on its own socket bound
with SO_REUSEPORT, so the kernel spreads new connections evenly across them (a single shared socket
lets one busy process accept most keep-alive connections). The parent forwards SIGTERM/SIGINT and
stops the others when one dies. Only the first child runs the embedded job worker.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import traceback
from collections.abc import Callable
from typing import Any

log = logging.getLogger("certvault.serve")


def reuseport_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_processes(workers: int, host: str, port: int, run_child: Callable[[int, socket.socket], None]) -> int:
    """Fork `workers` children running `run_child(index, socket)`; return the exit code for the parent."""
    probe = reuseport_socket(host, port)  # fails here, once, if the port is taken by someone else
    children: dict[int, int] = {}
    for index in range(workers):
        pid = os.fork()
        if pid == 0:
            if index != 0:
                probe.close()
            _child(index, probe if index == 0 else None, host, port, run_child)
        children[pid] = index
    probe.close()  # the first child listens on it; the parent only waits
    return _supervise(children)


def _child(index: int, sock: Any, host: str, port: int, run_child: Callable[[int, socket.socket], None]) -> None:
    code = 0
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        run_child(index, sock or reuseport_socket(host, port))
    except KeyboardInterrupt:
        pass
    except BaseException:  # noqa: BLE001 - a child must never return into the parent's code
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _supervise(children: dict[int, int]) -> int:
    stopping = False

    def stop(_signum: int = signal.SIGTERM, _frame: Any = None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        index = children.pop(pid, None)
        if index is None:
            continue
        exit_code = os.waitstatus_to_exitcode(status)
        if not stopping:
            log.error("server process %d (pid %d) exited with %d; stopping the others", index, pid, exit_code)
            code = 1
            stop()
    return code

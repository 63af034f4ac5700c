"""Worker processes for the benchmark, and how it learns that an order finished."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from certvault.container import App
from certvault.events.models import DomainEvent
from certvault.issuance import events

ROOT = Path(__file__).resolve().parents[2]


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU of another process, from /proc; with `children`, also of its children alive or
    reaped (PostgreSQL's backends)."""
    fields = _stat(pid)
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    child = _stat(int(entry.name))
                except OSError:
                    continue
                if int(child[1]) == pid:
                    ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class Finished:
    """Order id → threading.Event, set when the order is stored or failed (and committed)."""

    def __init__(self) -> None:
        self.waiting: dict[uuid.UUID, threading.Event] = {}
        self.failed: set[uuid.UUID] = set()
        self.lock = threading.Lock()

    def done(self, order_id: uuid.UUID, failed: bool) -> None:
        if failed:
            self.failed.add(order_id)
        self.event_for(order_id).set()

    def event_for(self, order_id: uuid.UUID) -> threading.Event:
        with self.lock:
            return self.waiting.setdefault(order_id, threading.Event())

    def watch(self, sessions: sessionmaker[Session]) -> None:
        """For an engine in this process: report each order whose final event committed."""
        watch_orders(sessions, lambda kind, order_id: self.done(order_id, kind == events.FAILED))


FINAL = (events.ISSUED, events.RENEWED, events.FAILED)


def watch_orders(sessions: sessionmaker[Session], report: Callable[[str, uuid.UUID], None]) -> None:
    """Call report(event type, order id) once a transaction that appended an order's final event commits.
    It only looks at what the engine's sessions flush (the domain-event rows): no query, no extra job."""

    @event.listens_for(sessions, "after_flush")
    def _seen(session: Session, _context: Any) -> None:
        for obj in session.new:
            if isinstance(obj, DomainEvent) and obj.type in FINAL and obj.payload.get("order"):
                session.info.setdefault("bench.finished", []).append((obj.type, uuid.UUID(obj.payload["order"])))

    @event.listens_for(sessions, "after_commit")
    def _report(session: Session) -> None:
        if session.in_nested_transaction():  # a savepoint: the transaction may still roll back
            return
        for kind, order_id in session.info.pop("bench.finished", []):
            report(kind, order_id)

    @event.listens_for(sessions, "after_soft_rollback")
    def _forget(session: Session, _previous: Any) -> None:
        session.info.pop("bench.finished", None)


class WorkerProcesses:
    """N `python -m bench.acme.worker` processes; each reports finished orders over UDP."""

    def __init__(self, app: App, count: int, slots: int, finished: Finished, logs: Path) -> None:
        self.app, self.count, self.slots, self.finished, self.logs = app, count, slots, finished, logs
        self.procs: list[subprocess.Popen[bytes]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self._listener = threading.Thread(target=self._listen, daemon=True)

    def start(self) -> WorkerProcesses:
        self.logs.mkdir(parents=True, exist_ok=True)
        port = self.sock.getsockname()[1]
        self._listener.start()
        for index in range(self.count):
            log = open(self.logs / f"worker-{index}.log", "wb")  # noqa: SIM115 - lives as long as the process
            proc = subprocess.Popen([sys.executable, "-m", "bench.acme.worker", str(self.app.settings.data_dir),
                                     self.app.settings.database_url, str(self.slots), str(port)],
                                    cwd=ROOT, stdout=subprocess.PIPE, stderr=log)
            self.procs.append(proc)
        for proc in self.procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != b"ready":
                raise RuntimeError(f"a worker process did not start; see {self.logs}")
        return self

    def _listen(self) -> None:
        while True:
            data = self.sock.recv(256).decode().split()
            if len(data) == 2:
                self.finished.done(uuid.UUID(data[1]), data[0] == events.FAILED)

    def cpu(self) -> dict[str, float]:
        return {f"worker {i + 1}": cpu_seconds(p.pid) for i, p in enumerate(self.procs)}

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()

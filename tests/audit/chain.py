"""Shared checks for the audit tests: threads started together, and a chain that is whole and gapless."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import select

from certvault.audit.models import AuditEvent
from certvault.container import App


def run_together(*targets: Callable[[], None]) -> None:
    """Run every target in its own thread, released at the same instant; fail with the first error any raised."""
    start = threading.Barrier(len(targets))
    failures: list[BaseException] = []

    def run(target: Callable[[], None]) -> None:
        try:
            start.wait()
            target()
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def assert_chain_intact(app: App) -> int:
    """`audit verify` passes and the sequence numbers have no gap; returns how many rows it checked."""
    with app.transaction() as svc:
        result = svc.audit.verify()
        seqs = list(svc.session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
    assert result.ok, result.problems
    assert seqs == list(range(1, len(seqs) + 1))
    return result.checked

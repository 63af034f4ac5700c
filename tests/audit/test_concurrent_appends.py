"""Appends racing from many transactions at once keep the chain gapless and verifiable.

On PostgreSQL the head row's lock serialises appenders (and an advisory lock the very first ones,
before the head row exists: the chain here starts empty); on SQLite the write lock does.
"""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from certvault.audit.models import AuditEvent
from certvault.auth.rbac import Actor
from certvault.container import App

THREADS, EACH = 6, 15


def test_concurrent_appends_from_the_first_one_on_stay_chained(app: App) -> None:
    with app.transaction() as svc:
        before = svc.session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    start = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            start.wait()
            for n in range(EACH):
                with app.transaction() as svc:
                    svc.audit.record(Actor.system(f"racer-{worker}"), "test.race", target_type="n", target_id=n)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=append, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with app.transaction() as svc:
        result = svc.audit.verify()
        seqs = list(svc.session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
    assert result.ok, result.problems
    assert result.checked == before + THREADS * EACH
    assert seqs == list(range(1, len(seqs) + 1))

"""Appends racing from many transactions at once keep the chain gapless and verifiable.

On PostgreSQL the head row's lock serialises appenders (and an advisory lock the very first ones,
before the head row exists: the chain here starts empty); on SQLite the write lock does.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

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


APPENDER = """
import sys
from certvault.auth.rbac import Actor
from certvault.container import build_app
from tests.conftest import make_settings
from pathlib import Path
app = build_app(make_settings(Path(sys.argv[1])), run_migrations=False)
for n in range(int(sys.argv[2])):
    with app.transaction() as svc:
        svc.audit.record(Actor.system(sys.argv[3]), "test.race", target_type="n", target_id=n)
app.close()
"""


def test_processes_appending_to_one_sqlite_database_queue_for_the_writer_lock(sqlite_app: App) -> None:
    """Three processes writing at once (as serve --workers, the job worker and the CLI do): none fails."""
    data_dir = str(sqlite_app.settings.data_dir)
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, data_dir, str(EACH * 4), f"process-{i}"],
                              cwd=Path(__file__).parents[2], stderr=subprocess.PIPE, text=True) for i in range(3)]
    errors = [proc.communicate(timeout=120)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], errors
    with sqlite_app.transaction() as svc:
        result = svc.audit.verify()
        racers = svc.session.scalar(select(func.count(AuditEvent.seq)).where(AuditEvent.action == "test.race"))
    assert result.ok, result.problems
    assert racers == 3 * EACH * 4

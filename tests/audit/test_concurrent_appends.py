"""Appends racing from many transactions at once keep the chain gapless and verifiable.

On PostgreSQL the head row's lock serialises appenders (and an advisory lock the very first ones,
before the head row exists: the chain here starts empty); on SQLite the write lock does.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from certvault.audit.models import AuditEvent
from certvault.auth.rbac import Actor
from certvault.container import App
from tests.audit.chain import assert_chain_intact, run_together

THREADS, EACH = 6, 15


def test_concurrent_appends_from_the_first_one_on_stay_chained(app: App) -> None:
    with app.transaction() as svc:
        before = svc.session.scalar(select(func.count()).select_from(AuditEvent)) or 0

    def append(worker: int) -> None:
        for n in range(EACH):
            with app.transaction() as svc:
                svc.audit.record(Actor.system(f"racer-{worker}"), "test.race", target_type="n", target_id=n)

    run_together(*(functools.partial(append, i) for i in range(THREADS)))
    assert assert_chain_intact(app) == before + THREADS * EACH


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

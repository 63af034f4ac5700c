"""The audit chain: appends link up; a changed, deleted or truncated row is detected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from certvault.auth.rbac import Actor
from certvault.container import App

BIN = Path(sys.executable).parent


def _record(app: App, count: int) -> None:
    actor = Actor.system("auditor-test")
    with app.transaction() as svc:
        for i in range(count):
            svc.audit.record(actor, "test.event", target_type="thing", target_id=i, details={"n": i})


def _problems(app: App) -> list[str]:
    with app.transaction() as svc:
        return svc.audit.verify().problems


def test_an_untouched_chain_verifies(app: App) -> None:
    _record(app, 20)
    with app.transaction() as svc:
        result = svc.audit.verify()
    assert result.ok and result.checked >= 20


def test_a_modified_row_is_detected(app: App) -> None:
    _record(app, 10)
    with app.engine.begin() as conn:
        seq = conn.execute(text("SELECT min(seq) FROM audit_events WHERE action='test.event'")).scalar_one()
        conn.execute(text("UPDATE audit_events SET actor_name='mallory' WHERE seq=:s"), {"s": seq + 3})
    assert _problems(app) == [f"row {seq + 3} (test.event) was modified"]


def test_a_deleted_row_is_detected(app: App) -> None:
    _record(app, 10)
    with app.engine.begin() as conn:
        seq = conn.execute(text("SELECT min(seq) FROM audit_events WHERE action='test.event'")).scalar_one()
        conn.execute(text("DELETE FROM audit_events WHERE seq=:s"), {"s": seq + 4})
    problems = _problems(app)
    assert f"row {seq + 4} deleted (sequence jumps to {seq + 5})" in problems


def test_truncating_the_tail_and_rewinding_the_head_is_detected(app: App) -> None:
    _record(app, 10)
    with app.engine.begin() as conn:
        last = conn.execute(text("SELECT max(seq) FROM audit_events")).scalar_one()
        prev = conn.execute(text("SELECT seq, hash FROM audit_events WHERE seq=:s"), {"s": last - 1}).one()
        conn.execute(text("DELETE FROM audit_events WHERE seq=:s"), {"s": last})
        conn.execute(text("UPDATE audit_head SET seq=:q, hash=:h"), {"q": prev.seq, "h": prev.hash})
    assert _problems(app) == ["chain head was tampered with"]


def test_deleting_the_last_row_alone_is_detected(app: App) -> None:
    _record(app, 5)
    with app.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq=(SELECT max(seq) FROM audit_events)"))
    problems = _problems(app)
    assert len(problems) == 1 and problems[0].startswith("rows after")


def test_cli_audit_verify_exits_nonzero_on_tampering(sqlite_app: App) -> None:
    _record(sqlite_app, 3)
    data_dir = str(sqlite_app.settings.data_dir)
    ok = subprocess.run([str(BIN / "certvault"), "--data-dir", data_dir, "audit", "verify"],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "audit log intact" in ok.stdout
    with sqlite_app.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET details='{}' WHERE action='test.event'"))
    bad = subprocess.run([str(BIN / "certvault"), "--data-dir", data_dir, "audit", "verify", "--json"],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and '"ok": false' in bad.stdout and "was modified" in bad.stdout


def test_search_filters_by_action_prefix_user_and_outcome(app: App) -> None:
    _record(app, 3)
    with app.transaction() as svc:
        svc.audit.record(Actor.system("someone-else"), "auth.login", outcome="failure")
        from certvault.audit.service import AuditQuery

        rows, total = svc.audit.search(Actor.system(), AuditQuery(action="test.", limit=2))
        assert total == 3 and len(rows) == 2 and rows[0].seq > rows[1].seq
        rows, total = svc.audit.search(Actor.system(), AuditQuery(outcome="failure"))
        assert [r.actor_name for r in rows] == ["someone-else"]

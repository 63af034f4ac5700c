"""Group commit of audit rows (audit/group.py) and the direct vault read route that uses it.

Many concurrent appends and reads: every one audited, rows of several requests share a commit, the chain
verifies. A failing commit gives no secret to anyone in its group, and a secret under check-out is still read
in a regular transaction (the read-only path declines it)."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
import uuid
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from certvault.api.fast import BearerFastRoute
from certvault.api.routes.vault import FAST_ROUTES
from certvault.audit import group
from certvault.audit.group import AuditCommitFailed
from certvault.audit.models import AuditEvent
from certvault.audit.service import AuditLog
from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.db import engine as engine_module
from certvault.db.engine import WriterBusy
from certvault.server import create_server
from certvault.vault.models import Secret
from tests.audit.chain import assert_chain_intact, run_together
from tests.vault.conftest import VaultScene, build_scene

THREADS, EACH = 8, 12


def _count(app: App, action: str) -> int:
    with app.transaction() as svc:
        return svc.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)) or 0


@dataclass
class Writes:
    sizes: list[int] = field(default_factory=list)  # rows per committed group
    handed: int = 0  # groups the loop found locked and gave to a thread


def _writes(monkeypatch: pytest.MonkeyPatch) -> Writes:
    writes = Writes()
    original = group.GroupCommit._write

    def counting(self, rows, lock_wait=None):  # type: ignore[no-untyped-def]
        try:
            error = original(self, rows, lock_wait)
        except WriterBusy:
            writes.handed += 1
            raise
        if error is None:
            writes.sizes.append(len(rows))
        return error

    monkeypatch.setattr(group.GroupCommit, "_write", counting)
    return writes


def test_concurrent_group_commits_stay_chained(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight event loops (as in eight processes) commit groups while ordinary transactions append too."""
    writes = _writes(monkeypatch)
    with app.transaction() as svc:
        key = svc.audit.key
        svc.audit.record(Actor.system("first"), "test.first")  # alongside ordinary appends
    commits = group.group_commit(app.engine, key)

    async def burst(worker: int, n: int) -> None:
        rows = [AuditLog.event_row(Actor.system(f"g-{worker}"), "test.group", target_type="n", target_id=n)
                for _ in range(1 + n % 2)]
        await commits.commit(rows)
        assert all(row["seq"] is not None for row in rows)

    async def append(worker: int) -> None:
        for start in range(0, EACH, 4):
            await asyncio.gather(*(burst(worker, n) for n in range(start, start + 4)))
            with app.transaction() as svc:
                svc.audit.record(Actor.system(f"r-{worker}"), "test.single")

    run_together(*(functools.partial(asyncio.run, append(i)) for i in range(THREADS)))
    assert_chain_intact(app)
    assert _count(app, "test.group") == THREADS * sum(1 + n % 2 for n in range(EACH))
    assert _count(app, "test.single") == THREADS * len(range(0, EACH, 4))
    assert sum(writes.sizes) == _count(app, "test.group") and max(writes.sizes) > 2


def _loop_reads(app: App, token: str, secret_id: str, count: int) -> tuple[list[bytes], list[BaseException], int]:
    """`count` direct reads started together on one event loop: the bodies, the errors, and how often the loop
    ran a 5 ms tick meanwhile (it must never stall behind a writer)."""
    route = FAST_ROUTES[0]
    assert isinstance(route, BearerFastRoute)

    async def main() -> tuple[list[bytes], list[BaseException], int]:
        ticks = 0
        reading = asyncio.ensure_future(asyncio.gather(
            *(route.answer(app, token, "127.0.0.1", {"secret_id": secret_id}) for _ in range(count)),
            return_exceptions=True))
        while not reading.done():
            await asyncio.sleep(0.005)
            ticks += 1
        results = reading.result()
        return ([r for r in results if isinstance(r, bytes)], [r for r in results if isinstance(r, BaseException)],
                ticks)

    return asyncio.run(main())


def _alice_and_a_secret(app: App, client: TestClient, name: str) -> tuple[VaultScene, dict, str, int]:
    """The vault scene, a secret alice may read, her token, and how many reads were audited so far."""
    scene = build_scene(app, client)
    return scene, scene.secret("Ops", name), scene.users["alice"].token, _count(app, "secret.view")


def test_reads_on_the_event_loop_are_each_audited_and_share_commits(app: App, monkeypatch) -> None:
    with TestClient(create_server(app), base_url="https://testserver") as client:
        scene, secret, token, before = _alice_and_a_secret(app, client, "db-group")
        _loop_reads(app, token, secret["id"], 1)  # the token's first use is recorded in a transaction
        writes = _writes(monkeypatch)
        for _ in range(3):
            bodies, errors, _ticks = _loop_reads(app, token, secret["id"], 16)
            assert errors == []
            assert len(bodies) == 16 and all(b"pw-db-group-Secret1" in body for body in bodies)
        assert writes.sizes == [16, 16, 16]  # every read the loop served in one pass joined one group
        assert _count(app, "secret.view") == before + 49
        # a refusal through the read-only path keeps its audit row, as the regular route does
        refused = client.get(f"/api/v1/vault/secrets/{secret['id']}/values", headers=scene.as_("bob"))
        assert refused.status_code == 404  # not his to see: answered like a secret that does not exist
    assert_chain_intact(app)
    with app.transaction() as svc:
        trail = svc.vault.trail(Actor.system(), uuid.UUID(secret["id"]))
    assert any(e.action == "secret.view" and e.outcome == "denied" and e.actor_name == "bob" for e in trail)


def test_a_busy_chain_hands_the_loop_group_to_a_thread(app: App, monkeypatch) -> None:
    """Another transaction holds the audit chain (SQLite's writer lock, PostgreSQL's head row) for 300 ms: the
    loop's group waits in a thread, the event loop keeps running meanwhile, and every read is answered only once
    its row is committed after that transaction's."""
    with TestClient(create_server(app), base_url="https://testserver") as client:
        _scene, secret, token, before = _alice_and_a_secret(app, client, "db-busy")
    _loop_reads(app, token, secret["id"], 1)
    writes = _writes(monkeypatch)
    holding = threading.Event()

    def long_writer() -> None:
        with app.transaction() as svc:
            svc.audit.record(Actor.system("long-writer"), "test.long_write")
            svc.session.flush()
            holding.set()
            time.sleep(0.3)

    started = threading.Thread(target=long_writer)
    started.start()
    assert holding.wait(10)
    bodies, errors, ticks = _loop_reads(app, token, secret["id"], 8)
    started.join()
    assert errors == [] and len(bodies) == 8 and all(b"pw-db-busy-Secret1" in body for body in bodies)
    assert (writes.handed, writes.sizes) == (1, [8])  # the lock was taken: a thread wrote the group once free
    assert ticks >= 10  # the loop went on ticking while the group waited for the lock
    assert _count(app, "secret.view") == before + 9
    with app.transaction() as svc:
        last = list(svc.session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq.desc()).limit(9)))
    assert last == ["secret.view"] * 8 + ["test.long_write"]  # the reads were chained after the long write
    assert_chain_intact(app)


def test_a_failed_group_commit_gives_no_secret_to_anyone(sqlite_app: App, monkeypatch) -> None:
    with TestClient(create_server(sqlite_app), base_url="https://testserver") as client:
        scene, secret, token, before = _alice_and_a_secret(sqlite_app, client, "db-fail")
        _loop_reads(sqlite_app, token, secret["id"], 1)

        def broken(conn, key, rows, **_kwargs):  # type: ignore[no-untyped-def]
            raise RuntimeError("disk full")

        monkeypatch.setattr(group, "append_rows", broken)
        bodies, errors, _ticks = _loop_reads(sqlite_app, token, secret["id"], 12)
        assert bodies == [] and len(errors) == 12
        assert all(isinstance(e, AuditCommitFailed) for e in errors)
        answer = client.get(f"/api/v1/vault/secrets/{secret['id']}/values", headers=scene.as_("alice"))
        assert answer.status_code == 503 and "pw-db-fail" not in answer.text
        monkeypatch.undo()
        assert _count(sqlite_app, "secret.view") == before + 1  # nothing more was committed, nothing answered
        ok = client.get(f"/api/v1/vault/secrets/{secret['id']}/values", headers=scene.as_("alice"))
        assert ok.status_code == 200 and _count(sqlite_app, "secret.view") == before + 2
    assert_chain_intact(sqlite_app)


def test_a_checked_out_secret_is_read_in_a_transaction(sqlite_app: App, monkeypatch) -> None:
    with TestClient(create_server(sqlite_app), base_url="https://testserver") as client:
        scene = build_scene(sqlite_app, client)
        secret = scene.secret("Ops", "db-checkout")
        with sqlite_app.transaction() as svc:
            svc.session.get(Secret, uuid.UUID(secret["id"])).checkout_enabled = True  # type: ignore[union-attr]
        path = f"/api/v1/vault/secrets/{secret['id']}/values"
        writes = _writes(monkeypatch)
        refused = client.get(path, headers=scene.as_("alice"))
        assert refused.status_code == 409 and "requires check-out" in refused.json()["detail"], refused.text
        assert writes.sizes == []  # decided by the regular transaction, not the read-only path


def test_the_loop_leaves_sqlite_checkpoints_to_a_thread(sqlite_app: App, monkeypatch) -> None:
    """A WAL checkpoint (an fsync) would stall every request on the loop: the loop's commits skip SQLite's
    automatic one, and a passive checkpoint runs in a thread once enough rows went in."""
    with TestClient(create_server(sqlite_app), base_url="https://testserver") as client:
        _scene, secret, token, _before = _alice_and_a_secret(sqlite_app, client, "db-wal")
        _loop_reads(sqlite_app, token, secret["id"], 1)  # the token's first use is recorded in a transaction
    ran_in: list[str] = []

    def recording(engine):  # type: ignore[no-untyped-def]
        ran_in.append(threading.current_thread().name)
        engine_module.checkpoint(engine)

    monkeypatch.setattr(group, "checkpoint", recording)
    monkeypatch.setattr(group, "CHECKPOINT_EVERY_ROWS", 1)  # every flush makes one due
    bodies, errors, _ticks = _loop_reads(sqlite_app, token, secret["id"], 4)
    assert errors == [] and len(bodies) == 4
    assert ran_in and threading.main_thread().name not in ran_in  # the loop ran in the main thread here
    with sqlite_app.engine.connect() as conn:  # the pooled connection got SQLite's default back
        assert conn.connection.driver_connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    assert_chain_intact(sqlite_app)

"""PostgreSQL connections that died while pooled (server restart, idle timeout) are replaced unseen."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from certvault.db import engine as engine_module
from tests.conftest import _postgres_app
from tests.servers.postgres import PostgresServer


@pytest.mark.postgres
def test_a_pooled_connection_killed_while_idle_is_replaced(
        postgres_server: PostgresServer, postgres_template: tuple[str, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    app, db = _postgres_app(postgres_server, postgres_template, tmp_path)
    try:
        with app.engine.connect() as victim, app.engine.connect() as other:  # both go back to the pool
            pid = victim.scalar(text("SELECT pg_backend_pid()"))
            victim.commit()
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)
        for _ in range(3):  # every pooled connection gets its turn: none may fail
            with app.transaction() as svc:
                assert svc.session.scalar(text("SELECT 1")) == 1
    finally:
        app.close()
        postgres_server.drop_database(db)

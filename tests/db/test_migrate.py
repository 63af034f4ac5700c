"""`is_current` reads the heads from the version files without Alembic; they are Alembic's heads, and a
database is current after `upgrade` and not before."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import text

from certvault.container import App
from certvault.db import migrate


def test_heads_read_from_the_files_are_alembics() -> None:
    assert migrate.heads() == set(ScriptDirectory.from_config(migrate.alembic_config()).get_heads())


def test_a_migrated_database_is_current_and_one_behind_is_not(app: App) -> None:
    assert migrate.is_current(app.engine)
    with app.engine.begin() as conn:
        conn.execute(text("DELETE FROM alembic_version WHERE version_num = :v"), {"v": sorted(migrate.heads())[0]})
    assert not migrate.is_current(app.engine)
    with app.engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    assert not migrate.is_current(app.engine)

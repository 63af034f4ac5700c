"""`is_current` reads the revisions from the version files without Alembic: the graph it reads is Alembic's, and
a database is current after `upgrade` (whose version table holds the tips only) and not when a step is missing."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import text

from certvault.container import App
from certvault.db import migrate


def _set(value: str | tuple[str, ...] | None) -> set[str]:
    return {value} if isinstance(value, str) else set(value or ())


def test_the_graph_read_from_the_files_is_alembics() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    alembics = {rev.revision: _set(rev.down_revision) | _set(rev.dependencies) for rev in script.walk_revisions()}
    assert migrate.graph() == alembics


def test_a_migrated_database_is_current_and_one_missing_a_step_is_not(app: App) -> None:
    assert migrate.is_current(app.engine)
    with app.engine.begin() as conn:
        tips = [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
        first = next(rev for rev, builds_on in migrate.graph().items() if not builds_on)
        conn.execute(text("UPDATE alembic_version SET version_num = :v WHERE version_num = :tip"),
                     {"v": first, "tip": sorted(tips)[0]})
    assert not migrate.is_current(app.engine)
    with app.engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    assert not migrate.is_current(app.engine)

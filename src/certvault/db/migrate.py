"""Run Alembic migrations programmatically. Each domain owns a branch; we upgrade to all heads.

`is_current` answers without Alembic (a command on an up-to-date database never imports it): the
heads are the revisions of versions/ that no other revision names as its `down_revision`, read
from the files' assignments; tests/db/test_migrate.py holds them to Alembic's own answer.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DatabaseError

from certvault.db.locks import advisory_lock

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
VERSIONS = MIGRATIONS / "versions"


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("version_locations", str(VERSIONS))
    cfg.set_main_option("path_separator", "os")
    return cfg


def upgrade(engine: Engine) -> None:
    """Upgrade to every head; processes starting together on one database take turns."""
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        advisory_lock(conn, "certvault-migrate")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


def _assignments(path: Path) -> dict[str, object]:
    """The module-level `name = literal` (or `name: type = literal`) assignments of a version file."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            found[target.id] = ast.literal_eval(value)
    return found


def heads() -> set[str]:
    """The revisions no other revision builds on (`down_revision` is one revision, a tuple of them, or None):
    what `upgrade` reaches."""
    revisions: set[str] = set()
    built_on: set[str] = set()
    for path in VERSIONS.glob("*.py"):
        found = _assignments(path)
        revisions.add(str(found["revision"]))
        down = found.get("down_revision")
        built_on.update([down] if isinstance(down, str) else down if isinstance(down, tuple | list) else [])
    return revisions - built_on


def is_current(engine: Engine) -> bool:
    with engine.connect() as conn:
        try:
            stored = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
        except DatabaseError:  # no version table yet: a new database
            return False
    return stored == heads()

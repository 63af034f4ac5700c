"""Run Alembic migrations programmatically. Each domain owns a branch; we upgrade to all heads.

`is_current` answers without Alembic (a command on an up-to-date database never imports it): the
heads are the revisions of versions/ that no other revision names as its `down_revision`, read
from the files' assignment lines; tests/db/test_migrate.py holds them to Alembic's own answer.
"""

from __future__ import annotations

import ast
import re
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


def upgrade(engine: Engine, settings: object = None) -> None:
    """Upgrade to every head; processes starting together on one database take turns. Data migrations
    that re-seal secrets read the master key through `settings` (attributes["settings"])."""
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        advisory_lock(conn, "certvault-migrate")
        cfg.attributes["connection"] = conn
        cfg.attributes["settings"] = settings
        command.upgrade(cfg, "heads")


# `revision = "x"` / `down_revision: str | None = None` at the start of a line, as Alembic's template writes them
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)


def _assignments(path: Path) -> dict[str, object]:
    """A version file's `revision` and `down_revision` (one revision, a tuple of them, or None)."""
    return {name: ast.literal_eval(value) for name, value in _ASSIGNMENT.findall(path.read_text())}


def heads() -> set[str]:
    """The revisions no other revision builds on: what `upgrade` reaches."""
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

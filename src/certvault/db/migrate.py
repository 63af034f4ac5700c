"""Run Alembic migrations programmatically. Each domain owns a branch; we upgrade to all heads.

`is_current` answers without Alembic (a command on an up-to-date database never imports it), from
the revisions' assignment lines in versions/; tests/db/test_migrate.py holds it to Alembic's answers.
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


# `revision = "x"`, `down_revision: str | None = None`, `depends_on = ("a", "b")`, as Alembic writes them
_ASSIGNMENT = re.compile(r"^(revision|down_revision|depends_on)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)


def _names(value: object) -> set[str]:
    return {value} if isinstance(value, str) else set(value) if isinstance(value, tuple | list) else set()


def graph() -> dict[str, set[str]]:
    """Every revision in versions/ and the revisions it builds on (its `down_revision` and `depends_on`)."""
    found: dict[str, set[str]] = {}
    for path in VERSIONS.glob("*.py"):
        values = {name: ast.literal_eval(value) for name, value in _ASSIGNMENT.findall(path.read_text())}
        found[str(values["revision"])] = _names(values.get("down_revision")) | _names(values.get("depends_on"))
    return found


def is_current(engine: Engine) -> bool:
    """Whether `upgrade` has nothing to do: the stored versions and all they build on are every revision. (Alembic
    stores the tips only: a revision that another one depends on leaves the table when that one is applied.)"""
    with engine.connect() as conn:
        try:
            stored = [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
        except DatabaseError:  # no version table yet: a new database
            return False
    revisions, applied = graph(), set()
    while stored:
        revision = stored.pop()
        if revision not in applied:
            if revision not in revisions:  # a newer release's: let Alembic say so
                return False
            applied.add(revision)
            stored.extend(revisions[revision])
    return applied == set(revisions)

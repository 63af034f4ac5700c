"""The structure rules of DESIGN.md, checked on every run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from certvault.container import App
from certvault.db.registry import load_all_models

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_import_contracts_hold() -> None:
    result = subprocess.run([str(BIN / "lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


def test_ruff_is_clean() -> None:
    result = subprocess.run([str(BIN / "ruff"), "check", "src", "tests", "bench"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


def test_mypy_is_clean() -> None:
    """mypy with the pydantic plugin over src/ ([tool.mypy] in pyproject.toml; stricter for the pure libraries).
    A cold run takes up to a minute or two; the cache in .mypy_cache makes later ones quick."""
    result = subprocess.run([str(BIN / "mypy"), "--cache-dir", str(ROOT / ".mypy_cache")], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def test_migrations_match_the_models(app: App) -> None:
    """Every model change ships with a migration (on SQLite and PostgreSQL alike)."""
    with app.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}),
                                load_all_models())
    assert diff == []

"""The import contracts catch what they are for: a copy of the tree with one planted violation each fails."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"

# contract name -> (module file to plant in, the import that breaks it)
PLANTED = {
    "Pure libraries import nothing of the app but errors": ("crypto/planted.py", "import certvault.db.session"),
    "Plugins are leaves: protocols, crypto and errors only": ("plugins/notify/planted.py",
                                                              "import certvault.keyring.service"),
    "Services never import the edges": ("issuance/planted.py", "import certvault.api.app"),
    "Edges import no models and no db: they call services through the container": (
        "web/routes/planted.py", "import certvault.vault.models"),
    # a library reaching up into a domain service (the container importing the CLI is appended below)
    "Layers: edges > container > domains > shared services > libraries": (
        "db/planted.py", "import certvault.vault.service"),
}


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run([str(LINT), "--no-cache", str(tree / "pyproject.toml")], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    copy = tmp_path / "tree"
    shutil.copytree(ROOT / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_imports_that_name_types_only_are_not_dependencies(tree: Path) -> None:
    """A `TYPE_CHECKING` import (how JobContext.services is typed as the container's Services) runs nothing."""
    (tree / "src" / "certvault" / "db" / "planted.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import certvault.container\n")
    assert _lint(tree).returncode == 0


def test_a_clean_copy_keeps_every_contract(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout[-3000:]
    for name in PLANTED:
        assert re.search(rf"{re.escape(name)} KEPT", result.stdout)


def test_one_planted_violation_of_each_contract_breaks_it(tree: Path) -> None:
    package = tree / "src" / "certvault"
    for path, line in PLANTED.values():
        if line is not None:
            (package / path).write_text(f"{line}\n")
    with (package / "container.py").open("a") as container:
        container.write("\nimport certvault.cli.main  # planted: the composition root reaching up into an edge\n")
    result = _lint(tree)
    assert result.returncode != 0
    for name in PLANTED:
        assert re.search(rf"{re.escape(name)} BROKEN", result.stdout), (name, result.stdout[-3000:])
    for planted in ("certvault.crypto.planted", "certvault.plugins.notify.planted", "certvault.issuance.planted",
                    "certvault.web.routes.planted", "certvault.db.planted", "certvault.container"):
        assert planted in result.stdout

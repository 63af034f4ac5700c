"""The SQLite files are readable by their owner only (issue 11, item 12).

Before: the database, its -wal and -shm files and the writer lock were created 0644 (the umask's default)
inside the 0700 data directory, one `chmod` of the directory away from every local user.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from certvault.auth.rbac import Actor
from certvault.container import App, build_app
from tests.conftest import make_settings

FILES = ("certvault.db", "certvault.db-wal", "certvault.db-shm", "certvault.db-writer")


@pytest.fixture
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # what most shells run with: new files 0644
    yield
    os.umask(previous)


def _modes(data: Path) -> dict[str, int]:
    return {name: stat.S_IMODE((data / name).stat().st_mode) for name in FILES if (data / name).exists()}


def _write(app: App) -> None:
    with app.transaction() as svc:
        svc.audit.record(Actor.system("mode-test"), "test.write")


def test_a_new_database_and_its_files_are_0600(tmp_path: Path, usual_umask: None) -> None:
    data = tmp_path / "data"
    app = build_app(make_settings(data))
    try:
        assert _modes(data)["certvault.db"] == 0o600  # after start-up (migrations ran)
        _write(app)
        modes = _modes(data)
        assert set(modes) == set(FILES)  # the write needed the WAL, its index and the writer lock
        assert modes == dict.fromkeys(FILES, 0o600)
    finally:
        app.close()


def test_files_of_an_existing_install_are_tightened_at_start_up(tmp_path: Path, sqlite_template: Path,
                                                                 usual_umask: None) -> None:
    data = tmp_path / "data"
    shutil.copytree(sqlite_template, data)
    for name in FILES:  # as an earlier version left them
        (data / name).touch()
        (data / name).chmod(0o644)
    app = build_app(make_settings(data), run_migrations=False)
    try:
        _write(app)
        assert _modes(data) == dict.fromkeys(FILES, 0o600)
    finally:
        app.close()

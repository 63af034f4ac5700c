"""A process that runs jobs in threads declares every model before those threads start: a model module first
imported by one thread while another thread's query configures the mappers meets half-declared classes, after
which SQLAlchemy refuses every query of the process. (Seen: `acme request --wait` loading the certificate
models in its job thread while its main thread read the order.) A command's own worker, limited to some jobs,
starts fast instead; `acme request --wait` declares what its jobs load before its worker starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from certvault.db.registry import MODEL_MODULES

PROBE = """
import json, sys
from certvault.config import load_settings
from certvault.container import build_app
app = build_app(load_settings(overrides={{"data_dir": sys.argv[1]}}))
before = [m for m in {models!r} if m in sys.modules]
app.worker({options})
print(json.dumps({{"before": before, "after": [m for m in {models!r} if m in sys.modules]}}))
"""


def _models_around_worker(data: Path, options: str) -> dict[str, list[str]]:
    code = PROBE.format(models=MODEL_MODULES, options=options)
    result = subprocess.run([sys.executable, "-c", code, str(data)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_a_full_worker_declares_every_model_before_its_threads_start(tmp_path: Path) -> None:
    _models_around_worker(tmp_path / "data", 'only="none."')  # creates the store: migrating loads every model
    seen = _models_around_worker(tmp_path / "data", "")
    assert set(seen["before"]) < set(MODEL_MODULES)  # the app alone loads some only
    assert seen["after"] == list(MODEL_MODULES)


def test_a_commands_own_worker_leaves_the_choice_to_the_command(tmp_path: Path) -> None:
    _models_around_worker(tmp_path / "data", 'only="acme."')
    seen = _models_around_worker(tmp_path / "data", 'only="acme."')
    assert seen["after"] == seen["before"] and set(seen["before"]) < set(MODEL_MODULES)

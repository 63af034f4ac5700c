"""Job modules load when a worker first meets one of their jobs: every job a module names starts with the
prefix the container files it under, and a worker running an ACME job imports no other domain's jobs."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

from certvault.container import JOB_MODULES
from certvault.jobs.catalog import JobHandlers


def test_every_job_name_starts_with_its_modules_prefix() -> None:
    for prefix, name in JOB_MODULES.items():
        module = importlib.import_module(name)
        named = [*module.HANDLERS, *(spec.job_name for spec in module.SCHEDULES)]
        assert named and all(job.startswith(prefix) for job in named), (name, prefix, named)
        assert not [other for other in JOB_MODULES if other != prefix and other.startswith(prefix)]


def test_a_lookup_imports_the_module_of_its_prefix_only(tmp_path: Path) -> None:
    code = f"""
import json, sys
from certvault.config import load_settings
from certvault.container import JOB_MODULES, build_app
app = build_app(load_settings(environ={{}}, overrides={{"data_dir": {str(tmp_path)!r}}}))
found = app.handlers.get("acme.order.advance") is not None and "acme.order.cleanup" in app.handlers
print(json.dumps([found, app.handlers.get("nobody.job"), sorted(set(JOB_MODULES.values()) & set(sys.modules))]))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    found, unknown, loaded = json.loads(result.stdout or "null") or (None, None, result.stderr)
    assert found is True and unknown is None
    assert loaded == ["certvault.issuance.jobs"]


def test_handlers_given_up_front_and_added_later_are_found() -> None:
    handlers = JobHandlers({"acme.": "certvault.issuance.jobs"}, {"site.job": print})
    handlers.update({"t.tick": len})
    assert handlers["site.job"] is print and handlers.get("t.tick") is len and "t.other" not in handlers
    assert callable(handlers["acme.order.advance"])

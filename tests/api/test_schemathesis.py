"""Property-based fuzzing of the whole REST API from its own OpenAPI document: no 5xx, ever.

Schemathesis generates requests (valid and invalid) for every operation from the OpenAPI
document and sends them, as an administrator, to the application in-process.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from certvault.container import build_app
from certvault.server import create_server
from tests.conftest import create_login, make_settings

EXAMPLES_PER_OPERATION = 12


@pytest.mark.xdist_group("schemathesis")
def test_no_operation_answers_with_a_server_error(tmp_path: Path, sqlite_template: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(sqlite_template, data)
    application = build_app(make_settings(data), run_migrations=False)
    headers = create_login(application, "administrator").headers
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", create_server(application))
    failures: list[str] = []
    operations = 0
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            _fuzz(operation, headers, failures)
    finally:
        application.close()
    assert operations > 50
    assert failures == [], "\n".join(failures)


def _fuzz(operation: Any, headers: dict[str, str], failures: list[str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # the in-process transport re-raises what the app did not handle
            failures.append(f"{case.method} {case.formatted_path} -> unhandled {type(exc).__name__}: {exc!s:.300}")
            return
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

    run()

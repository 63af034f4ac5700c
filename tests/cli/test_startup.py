"""The command line starts light: importing its entry point loads no heavy library, `certvault --help`
imports no command module and lists every command with the line its own help starts with, and a
command imports only its own module. Timings are bench.cli's to print, not a test's to assert."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from certvault.cli.main import COMMANDS
from tests.servers.certvault_server import BIN

HEAVY = ("sqlalchemy", "alembic", "fastapi", "uvicorn", "jks", "acme", "josepy", "argon2")
# The order `certvault --help` has always listed the commands in: modules registered in this order.
MODULES = ("system", "users", "ca", "certificates", "acme", "scans", "vault")

PROBE = """
import json, sys
from certvault.cli.main import main
sys.argv = ["certvault", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
loaded = [m for m in sys.modules if m.split(".")[0] in {heavy!r} or m.startswith("certvault.cli.")]
print("\\nLOADED " + json.dumps(sorted(loaded)))
"""

EAGER = """
import importlib, typer
from certvault.cli import main
eager = typer.Typer(name="certvault", help=main.app.info.help, no_args_is_help=True, add_completion=False,
                    pretty_exceptions_enable=False)
eager.callback()(main._global)
for module in {modules!r}:
    importlib.import_module(f"certvault.cli.{{module}}").register(eager)
eager(prog_name="certvault")
"""


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100", "TERM": "dumb"}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)


def _loaded(*args: str) -> tuple[str, set[str]]:
    result = _python(PROBE.format(heavy=HEAVY), *args)
    output, _, loaded = result.stdout.rpartition("\nLOADED ")
    assert loaded, result.stderr
    return output, set(json.loads(loaded))


def test_importing_the_entry_point_loads_no_heavy_library() -> None:
    result = _python(f"import json, sys, certvault.cli.main; print(json.dumps(sorted(m for m in sys.modules "
                     f"if m.split('.')[0] in {HEAVY!r})))")
    assert json.loads(result.stdout) == [], result.stderr


def test_help_lists_every_command_without_importing_one() -> None:
    output, loaded = _loaded("--help")
    assert loaded == {"certvault.cli.main", "certvault.cli.common"}
    first_words = {line[2:].split()[0] for line in output.splitlines() if line.startswith("│ ") and line[2] != " "}
    assert set(COMMANDS) <= first_words, output


def test_help_is_what_the_commands_themselves_say() -> None:
    """The table's lines and order against the help of every command module loaded up front."""
    eager = _python(EAGER.format(modules=MODULES), "--help")
    lazy = subprocess.run([str(BIN / "certvault"), "--help"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "100", "TERM": "dumb"})
    assert eager.returncode == lazy.returncode == 0, eager.stderr + lazy.stderr
    assert lazy.stdout == eager.stdout


def test_a_command_imports_its_own_module_only() -> None:
    _, loaded = _loaded("cert", "--help")
    assert {m for m in loaded if m.startswith("certvault.cli.")} == {
        "certvault.cli.main", "certvault.cli.common", "certvault.cli.certificates"}

"""The command line starts light: importing its entry point loads no heavy library, `certvault --help`
imports no command module and lists every command with the line its own help starts with, and a
command imports only its own module. Timings are bench.cli's to print, not a test's to assert."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

from certvault.cli.main import COMMANDS, module_commands

HEAVY = ("sqlalchemy", "alembic", "fastapi", "uvicorn", "jks", "acme", "josepy", "argon2")

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


def test_help_lines_are_what_the_commands_themselves_say() -> None:
    """Each line of the table is the first paragraph of the command's own help (what --help would show
    with every module loaded), and every command a listed module registers is in the table."""
    for name, (module, line) in COMMANDS.items():
        command = module_commands(module).get_command(None, name)  # type: ignore[arg-type]
        assert command is not None, f"{module} registers no {name!r}"
        own = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0].replace("\n", " ")
        assert (own.strip(), command.hidden, command.deprecated) == (line, False, False), name
        assert not getattr(command, "rich_help_panel", None), name
    for module in {module for module, _ in COMMANDS.values()}:
        registered = module_commands(module).list_commands(None)  # type: ignore[arg-type]
        unlisted = [name for name in registered if COMMANDS.get(name, ("",))[0] != module]
        assert not unlisted, f"cli/{module}.py registers {unlisted}, which COMMANDS does not list"


def test_a_command_imports_its_own_module_only() -> None:
    _, loaded = _loaded("cert", "--help")
    assert {m for m in loaded if m.startswith("certvault.cli.")} == {
        "certvault.cli.main", "certvault.cli.common", "certvault.cli.certificates"}


def test_a_command_printing_json_loads_no_terminal_renderer(tmp_path: Path) -> None:
    """`--json` output is written as it is: rich (tables, colours) loads only for what a person reads."""
    result = _python(PROBE.format(heavy=("rich",)), "--data-dir", str(tmp_path / "data"), "cert", "list", "--json")
    output, _, loaded = result.stdout.rpartition("\nLOADED ")
    assert json.loads(output)["total"] == 0, result.stderr
    assert not [m for m in json.loads(loaded) if m.startswith("rich")]
    table, _, _ = _python(PROBE.format(heavy=("rich",)), "--data-dir", str(tmp_path / "data"), "cert",
                          "list").stdout.rpartition("\nLOADED ")
    assert "0 of 0" in table


def test_a_sqlite_command_loads_no_postgresql_dialect_and_no_module_it_does_not_use(tmp_path: Path) -> None:
    """What a command on SQLite that touches no account or deployment needs stays unloaded: the PostgreSQL
    dialect, the account models (credentials are API and web business) and deploy's models. (The first run
    creates the store, which migrates every table: the probe is the second.)"""
    _python(PROBE.format(heavy=()), "--data-dir", str(tmp_path / "data"), "cert", "list", "--json")
    result = _python(PROBE.format(heavy=("sqlalchemy", "certvault")), "--data-dir", str(tmp_path / "data"),
                     "cert", "list", "--json")
    output, _, loaded_text = result.stdout.rpartition("\nLOADED ")
    assert json.loads(output)["total"] == 0, result.stderr
    loaded = set(json.loads(loaded_text))
    assert {"sqlalchemy.orm", "certvault.certificates.models"} <= loaded  # the probe sees what the command loaded
    assert loaded & {"sqlalchemy.dialects.postgresql", "certvault.auth.models", "certvault.deploy.models"} == set()

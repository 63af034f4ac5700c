"""Entry point: global options, command registration, one-line errors."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import typer

from certvault.cli.common import State, err_console
from certvault.errors import CertvaultError

COMMAND_MODULES = (
    "certvault.cli.system",
    "certvault.cli.users",
    "certvault.cli.ca",
    "certvault.cli.certificates",
    "certvault.cli.acme",
    "certvault.cli.scans",
    "certvault.cli.vault",
)

app = typer.Typer(
    name="certvault", help="Certificate lifecycle manager with a secrets vault.", no_args_is_help=True,
    pretty_exceptions_enable=False, add_completion=False,
)


@app.callback()
def _global(
    ctx: typer.Context,
    data_dir: Path | None = typer.Option(None, "--data-dir", envvar="CERTVAULT_DATA_DIR",
                                         help="data directory (default ./data)"),
    config: Path | None = typer.Option(None, "--config", envvar="CERTVAULT_CONFIG", help="TOML file"),
) -> None:
    ctx.obj = State(data_dir=data_dir, config=config)


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    try:
        app()
    except CertvaultError as exc:
        err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)

"""Entry point: global options, command registration, one-line errors.

Commands load lazily: `COMMANDS` names every command with its module and the line `--help` shows, so
`certvault --help` imports no command module, and `certvault cert list` imports `cli.certificates`
alone (which imports what its commands use). tests/cli/test_startup.py holds the lines to the
commands' own help and the entry point to its imports. The garbage collector waits until the command
runs, and then skips the objects start-up made (about a third of a short command's CPU otherwise).
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_group

from certvault.cli.common import State, err_console
from certvault.errors import CertvaultError

# name -> (module under certvault.cli, the line `certvault --help` shows), in the order it lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("system", "Create the data directory, master key, database, internal CA, first admin and TLS files."),
    "run": ("system", "Initialise when needed, then serve HTTPS with the embedded worker (what `make run` does)."),
    "serve": ("system", "Serve the API and web UI over HTTPS."),
    "worker": ("system", "Run a job worker alone (scale-out: any number share one PostgreSQL)."),
    "discover": ("certificates", "Fetch the certificates TLS servers present and add them to the inventory "
                                 "(as unmanaged)."),
    "hardening": ("vault", "The security hardening report; exits 1 when a check is bad."),
    "config": ("system", "Show the effective configuration."),
    "keys": ("system", "Master key operations."),
    "audit": ("system", "Verify and search the audit log."),
    "user": ("users", "Manage users."),
    "group": ("users", "Manage groups."),
    "token": ("users", "Manage API tokens."),
    "ca": ("ca", "The internal CA (client certificates for mutual TLS)."),
    "cert": ("certificates", "The certificate inventory."),
    "acme": ("acme", "ACME certificates: accounts, requests, renewal, revocation."),
    "dns-account": ("dns_accounts", "DNS accounts that answer dns-01 challenges."),
    "scan": ("scans", "Scan TLS endpoints: `certvault scan TARGET[:PORT] [--json]` or `certvault scan --targets "
                      "FILE`. TARGET is a name, an IP, [IPv6]:port or a CIDR range. Results are stored with history "
                      "unless --no-store. Scan options (--sni, --ca-file, --starttls, --ports, --concurrency, "
                      "--json, ...): certvault scan run --help"),
    "folder": ("vault", "Vault folders and their permissions."),
    "secret": ("vault", "Vault secrets."),
    "service-account": ("vault", "Service accounts for scanners and scripts."),
    "notify": ("notify", "Notification channels and subscriptions."),
    "deploy": ("deploy", "Deploy certificates to the servers that use them, verify, roll back."),
    "helpdesk": ("tickets", "Help desks (ServiceNow, ServiceDesk Plus, Jira) that get tickets, with mutual TLS."),
    "tickets": ("tickets", "Help-desk tickets for expiring and vulnerable certificates: sync and list."),
    "agent": ("agents", "certvault agents on end servers: enrolment tokens, status, revocation."),
}


@cache
def module_commands(module: str) -> TyperGroup:
    """The commands one module registers (each module's `register(app)`), imported on first use."""
    commands = typer.Typer()
    importlib.import_module(f"certvault.cli.{module}").register(commands)
    return get_group(commands)


class LazyGroup(TyperGroup):
    """The root group: lists `COMMANDS` from the table, loads a command when it runs or shows its own help."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = {name: TyperCommand(name, help=line) for name, (_, line) in COMMANDS.items()}
        self._listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS or self._listing:
            return self.commands.get(cmd_name)
        return module_commands(COMMANDS[cmd_name][0]).get_command(ctx, cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True  # the listing shows the table's lines: no command module is imported
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="certvault", help="Certificate lifecycle manager with a secrets vault.", no_args_is_help=True,
    pretty_exceptions_enable=False, add_completion=False, cls=LazyGroup,
)


@app.callback()
def _global(
    ctx: typer.Context,
    data_dir: Path | None = typer.Option(None, "--data-dir", envvar="CERTVAULT_DATA_DIR",
                                         help="data directory (default ./data)"),
    config: Path | None = typer.Option(None, "--config", envvar="CERTVAULT_CONFIG", help="TOML file"),
) -> None:
    ctx.obj = State(data_dir=data_dir, config=config)
    gc.freeze()  # the command's module is loaded: later collections, and the one at exit, skip what start-up made
    gc.enable()


def main() -> None:
    # certvault uses no pydantic plugins: skip pydantic's scan of every installed distribution for them (~10 ms
    # in a large environment, at the first model built). Typer does the same around its own adapters.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    gc.disable()  # start-up imports make many objects and free few: no collection until the command runs (_global)
    try:
        app()
    except CertvaultError as exc:
        err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)

"""What every command shares: settings from global options, the app, the acting user, output."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from uuid import UUID

import typer

from certvault.auth.rbac import Actor
from certvault.safe_text import escape_controls

if TYPE_CHECKING:  # the settings and the container load when a command first needs them
    from certvault.config import Settings
    from certvault.container import App, Services


def shown(text: str) -> str:
    """`text` for a terminal: control, bidi and invisible characters written as escapes (\\x1b, \\u202e), so a
    stored name cannot move the cursor, recolour or reorder what is printed. The line breaks of the command's own
    multi-line messages stay."""
    return "\n".join(escape_controls(line) for line in text.split("\n"))


class SafeConsole:
    """A rich Console, made when a command first prints through it (a command printing JSON never loads rich);
    every string printed goes through `shown` (markup the command wrote still applies)."""

    def __init__(self, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Any = None

    @property
    def rich(self) -> Any:
        """The rich Console itself (for rich's widgets, e.g. a progress bar)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr)
        return self._console

    def print(self, *objects: Any, **kwargs: Any) -> None:
        self.rich.print(*(shown(o) if isinstance(o, str) else o for o in objects), **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rich, name)


console = SafeConsole()
err_console = SafeConsole(stderr=True)


@dataclass
class State:
    data_dir: Path | None = None
    config: Path | None = None
    _app: App | None = field(default=None, repr=False)

    def settings(self, **overrides: Any) -> Settings:
        from certvault.config import load_settings

        base: dict[str, Any] = {}
        if self.data_dir is not None:
            base["data_dir"] = str(self.data_dir)
        if self.config is not None:
            base["config_file"] = str(self.config)
        base.update(overrides)
        return load_settings(overrides=base)

    def app(self) -> App:
        if self._app is None:
            from certvault.container import build_app

            self._app = build_app(self.settings())
        return self._app


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj


def cli_actor() -> Actor:
    """The local command line acts as an administrator: it already holds the master key."""
    try:
        who = getpass.getuser()
    except Exception:
        who = "unknown"
    return Actor.system(f"cli:{who}", via="cli")


@contextmanager
def services(ctx: typer.Context) -> Iterator[Services]:
    with state(ctx).app().transaction() as svc:
        yield svc


def to_jsonable(value: Any) -> Any:
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID | Path):
        return str(value)
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, sort_keys=False) + "\n")


def print_json_line(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), separators=(",", ":")) + "\n")
    sys.stdout.flush()


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    """Cells are plain text: control characters escaped (a cell is one line), no markup."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*[Text("" if v is None else escape_controls(str(v))) for v in row])
    console.print(table)


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)

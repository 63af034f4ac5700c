"""`certvault dns-account ...`: generated from the DNS plugins' options (cli/integrations.py)."""

from __future__ import annotations

import typer

from certvault.cli.integrations import AccountKind, account_app


def register(app: typer.Typer) -> None:
    spec = AccountKind("dns", "DNS account", name_argument=False)
    app.add_typer(account_app(spec, "DNS accounts that answer dns-01 challenges."), name="dns-account")

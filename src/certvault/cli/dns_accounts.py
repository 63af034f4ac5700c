"""`certvault dns-account ...`: generated from the DNS plugins' options (cli/integrations.py), plus what DNS
adds: `add acme-dns --register` (a new acme-dns registration, and the CNAME to create) and `test`
listing the zones the account can edit."""

from __future__ import annotations

import sys
from typing import Any

import typer

from certvault.cli.common import cli_actor, console, print_json, services
from certvault.cli.integrations import AccountKind, account_app

REGISTER = (bool, typer.Option(False, "--register", help="register a new acme-dns account on --server "
                                                        "(then create the CNAME it prints)"))


def _add(svc: Any, plugin: str, name: str, options: dict[str, Any], secrets: dict[str, str],
         values: dict[str, Any]) -> Any:
    return svc.issuance.dns_accounts.add(cli_actor(), plugin, name, options, secrets,
                                         register=bool(values.get("register")))


def _after_add(svc: Any, account: Any, values: dict[str, Any]) -> None:
    target = account.options.get("fulldomain")
    if account.plugin != "acme-dns" or not values.get("register") or not target:
        return
    text = (f"Create this DNS record for each name this account validates (e.g. example.com):\n"
            f"  _acme-challenge.example.com. CNAME {target}.")
    # with --json only the account's JSON goes to stdout; unwrapped, so the line can be copied
    print(text, file=sys.stderr if values.get("as_json") else sys.stdout)


def _test(ctx: typer.Context, ref: str, as_json: bool) -> None:
    with services(ctx) as svc:
        result = svc.issuance.dns_accounts.test(cli_actor(), svc.integrations.find("dns", ref).id)
    if as_json:
        print_json({k: v for k, v in result.items() if k != "result"})
    elif result["ok"]:
        console.print(result["result"], highlight=False)
        console.print("zones: " + (", ".join(result["zones"]) or "(this provider does not list zones)"),
                      highlight=False)
    else:
        console.print(f"test failed: {result['error']}", highlight=False)
    if not result["ok"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    spec = AccountKind("dns", "DNS account", name_argument=False, plugin_extra={"acme-dns": {"register": REGISTER}},
                       adder=_add, after_add=_after_add, test=_test)
    app.add_typer(account_app(spec, "DNS accounts that answer dns-01 challenges."), name="dns-account")

"""`certvault helpdesk ...` (generated from the ticketing plugins, cli/integrations.py, plus mTLS and ticket
options) and `certvault tickets sync|list`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from certvault.cli.common import cli_actor, console, print_json, print_table, services, state
from certvault.cli.integrations import SECURITY, AccountKind, account_app, read_file


def _configure(svc: Any, account: Any, values: dict[str, Any]) -> None:
    """After `add` (same transaction, after its client keystore was checked): the ticket options."""
    svc.tickets.configure(
        cli_actor(), account.id, expiry_tickets=values.get("expiry_tickets"),
        vulnerability_tickets=values.get("vulnerability_tickets"),
        resolve_on_renewal=values.get("resolve_on_renewal"))


def _test(ctx: typer.Context, ref: str, as_json: bool) -> None:
    with services(ctx) as svc:
        result = svc.tickets.check(cli_actor(), ref)
    print_json({"ok": True, "result": result}) if as_json else console.print(result, highlight=False)


EXTRA: dict[str, tuple[Any, Any]] = {  # besides the mutual TLS flags every account kind has (SECURITY)
    "expiry_tickets": (bool, typer.Option(True, "--expiry-tickets/--no-expiry-tickets",
                                          help="create tickets for certificate expiry")),
    "vulnerability_tickets": (bool, typer.Option(True, "--vulnerability-tickets/--no-vulnerability-tickets",
                                                 help="create tickets for SSL vulnerabilities")),
    "resolve_on_renewal": (bool, typer.Option(True, "--resolve-on-renewal/--no-resolve-on-renewal",
                                              help="note and resolve the ticket when a renewed version is stored")),
}
HELPDESKS = AccountKind("ticketing", "help desk", name_argument=True, extra=EXTRA, after_add=_configure, test=_test)


def register(app: typer.Typer) -> None:
    helpdesk_app = account_app(HELPDESKS, "Help desks (ServiceNow, ServiceDesk Plus, Jira) that get tickets, with "
                                          "mutual TLS.")
    helpdesk_app.command("settings")(settings)
    helpdesk_app.command("show")(show)
    app.add_typer(helpdesk_app, name="helpdesk")
    tickets_app = typer.Typer(help="Help-desk tickets for expiring and vulnerable certificates: sync and list.",
                              no_args_is_help=True)
    tickets_app.command("sync")(sync)
    tickets_app.command("list")(listing)
    app.add_typer(tickets_app, name="tickets")


def settings(ctx: typer.Context, ref: str = typer.Argument(..., metavar="ID|NAME"),
             client_keystore: Path | None = SECURITY["client_keystore"][1],
             keystore_password: str | None = SECURITY["keystore_password"][1],
             client_cert: str | None = SECURITY["client_cert"][1],
             trusted_cert: Path | None = SECURITY["trusted_cert"][1],
             expiry_tickets: bool | None = typer.Option(None, "--expiry-tickets/--no-expiry-tickets"),
             vulnerability_tickets: bool | None = typer.Option(
                 None, "--vulnerability-tickets/--no-vulnerability-tickets"),
             resolve_on_renewal: bool | None = typer.Option(None, "--resolve-on-renewal/--no-resolve-on-renewal"),
             no_client_identity: bool = typer.Option(False, "--no-client-identity", help="stop offering one"),
             no_trusted_cert: bool = typer.Option(False, "--no-trusted-cert", help="back to the system store"),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """Change a help desk's ticket options, client identity (mutual TLS) or trusted certificate."""
    with services(ctx) as svc:
        svc.tickets.configure(cli_actor(), ref, expiry_tickets=expiry_tickets,
                              vulnerability_tickets=vulnerability_tickets, resolve_on_renewal=resolve_on_renewal,
                              keystore=read_file(client_keystore, "--client-keystore"),
                              keystore_password=keystore_password, client_cert=client_cert,
                              trusted_cert=read_file(trusted_cert, "--trusted-cert"),
                              clear_identity=no_client_identity, clear_trust=no_trusted_cert)
    _show_one(ctx, ref, as_json)


def show(ctx: typer.Context, ref: str = typer.Argument(..., metavar="ID|NAME"),
         as_json: bool = typer.Option(False, "--json")) -> None:
    """A help desk with its ticket options and mutual-TLS settings (never the keystore)."""
    _show_one(ctx, ref, as_json)


def _show_one(ctx: typer.Context, ref: str, as_json: bool) -> None:
    from certvault.tickets.schemas import HelpDeskOut

    with services(ctx) as svc:
        account = svc.tickets.account(ref)
        out = HelpDeskOut.of(account, svc.tickets.settings_of(account.id))
    if as_json:
        print_json(out)
        return
    for name, value in out.model_dump(mode="json").items():
        console.print(f"{name}: {value}", highlight=False)


def sync(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Run both rule sets now (expiry and vulnerability) against every enabled help desk."""
    from certvault.tickets.sync import TicketSync

    app = state(ctx).app()
    with app.transaction() as svc:
        svc.tickets.authorize_sync(cli_actor())
    report = TicketSync(app.transaction, f"cli:{os.getpid()}").run()
    if as_json:
        print_json(report.as_dict())
    else:
        rows = [[outcome, i["helpdesk"], i["kind"], i["key"], i["number"] or "", i.get("error", "")]
                for outcome, items in report.as_dict().items() for i in items if outcome != "unchanged"]
        print_table(["outcome", "help desk", "kind", "key", "ticket", "error"], rows)
        console.print(f"{len(report.unchanged)} unchanged", highlight=False)
    if report.failed:
        raise typer.Exit(1)


def listing(ctx: typer.Context, helpdesk: str | None = typer.Option(None, "--helpdesk"),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """The tickets certvault keeps, with pending and failed changes."""
    from certvault.tickets.schemas import TicketOut

    with services(ctx) as svc:
        rows = [TicketOut.of(r, a) for r, a in svc.tickets.records(cli_actor(), helpdesk)]
    if as_json:
        print_json(rows)
        return
    print_table(["help desk", "kind", "key", "ticket", "status", "sync", "error"],
                [[t.helpdesk, t.kind, t.key, t.number or "", t.status or "", t.sync_state, t.error or ""]
                 for t in rows])

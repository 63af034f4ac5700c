"""ca show-root, ca issue-client, ca list, ca revoke."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from certvault.cli.common import cli_actor, console, fail, print_json, print_table, services
from certvault.pki.schemas import IssuedOut

ca_app = typer.Typer(help="The internal CA (client certificates for mutual TLS).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(ca_app, name="ca")


@ca_app.command("show-root")
def show_root(ctx: typer.Context) -> None:
    """Print the internal root CA certificate (PEM) for clients to trust."""
    with services(ctx) as svc:
        sys.stdout.write(svc.pki.root_pem())


@ca_app.command("issue-client")
def issue_client(
    ctx: typer.Context,
    cn: str = typer.Option(..., "--cn", help="subject common name"),
    san: list[str] = typer.Option([], "--san", help="DNS subject alternative name (repeatable)"),
    days: int = typer.Option(365, help="lifetime in days"),
    key: str = typer.Option("rsa2048", help="ec256 | ec384 | rsa2048 | rsa3072 | rsa4096"),
    out: Path = typer.Option(..., "--out", help="PKCS#12 file to write"),
    password: str = typer.Option(..., "--password", help="protects the PKCS#12 file"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Issue a client certificate (EKU clientAuth) and write it with its key as PKCS#12."""
    if out.exists() and out.is_dir():
        fail(f"{out} is a directory")
    with services(ctx) as svc:
        bundle = svc.pki.issue_client(cli_actor(), cn, san, days, key)
        data = bundle.pkcs12(password)
        info = IssuedOut.model_validate(bundle.record)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    if as_json:
        print_json({**info.model_dump(mode="json"), "file": str(out)})
    else:
        console.print(f"client certificate {info.serial} for {cn} written to {out}", highlight=False)


@ca_app.command("list")
def list_issued(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Certificates issued by the internal CA."""
    with services(ctx) as svc:
        rows = [IssuedOut.model_validate(r) for r in svc.pki.list_issued(cli_actor())]
    if as_json:
        print_json(rows)
        return
    print_table(["serial", "profile", "cn", "sans", "expires", "revoked"],
                [[r.serial, r.profile, r.common_name, ", ".join(r.sans), r.not_after, r.revoked_at or ""]
                 for r in rows])


@ca_app.command("revoke")
def revoke(ctx: typer.Context, serial: str, reason: int = typer.Option(0, min=0, max=10)) -> None:
    """Revoke a certificate the internal CA issued."""
    with services(ctx) as svc:
        svc.pki.revoke(cli_actor(), serial, reason)
    console.print(f"{serial} revoked")

"""`certvault deploy ...`: deploy targets (generated from the plugins' options), mappings and deployments."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

import typer

from certvault.cli.common import cli_actor, console, print_json, print_table, services, state
from certvault.cli.integrations import AccountKind, account_app

if TYPE_CHECKING:
    from certvault.deploy.schemas import DeploymentOut



def register(app: typer.Typer) -> None:
    deploy = typer.Typer(help="Deploy certificates to the servers that use them, verify, roll back.",
                         no_args_is_help=True)
    spec = AccountKind("deploy", "deploy target", name_argument=True)
    deploy.add_typer(account_app(spec, "Deploy targets: SSH servers, local directories, AWS ACM, webhooks."),
                     name="target")
    deploy.command("map")(map_certificate)
    deploy.command("unmap")(unmap)
    deploy.command("mappings")(mappings)
    deploy.command("run")(run)
    deploy.command("list")(listing)
    app.add_typer(deploy, name="deploy")


def _id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a certificate id") from None


def map_certificate(ctx: typer.Context, cert_id: str = typer.Argument(..., metavar="CERT_ID"),
                    target: str = typer.Option(..., "--target", help="deploy target name or id"),
                    auto: bool = typer.Option(True, "--auto/--no-auto",
                                              help="deploy after the first issuance and every renewal"),
                    as_json: bool = typer.Option(False, "--json")) -> None:
    """Map a certificate to a deploy target."""
    from certvault.deploy.schemas import MappingOut

    with services(ctx) as svc:
        mapping = svc.deploy.map(cli_actor(), _id(cert_id), target, auto)
        account = svc.deploy.target(target)
        out = MappingOut.of((mapping, account.name, account.plugin))
    if as_json:
        print_json(out)
    else:
        console.print(f"certificate {cert_id} mapped to {out.target} ({'auto' if out.auto else 'manual'})",
                      highlight=False)


def unmap(ctx: typer.Context, cert_id: str = typer.Argument(..., metavar="CERT_ID"),
          target: str = typer.Option(..., "--target")) -> None:
    """Remove a certificate's mapping to a deploy target."""
    with services(ctx) as svc:
        svc.deploy.unmap(cli_actor(), _id(cert_id), target)
    console.print(f"certificate {cert_id} no longer mapped to {target}", highlight=False)


def mappings(ctx: typer.Context, cert: str | None = typer.Option(None, "--cert", metavar="CERT_ID"),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """List mappings (all, or one certificate's)."""
    from certvault.deploy.schemas import MappingOut

    with services(ctx) as svc:
        rows = [MappingOut.of(r) for r in svc.deploy.mappings(cli_actor(), _id(cert) if cert else None)]
    if as_json:
        print_json(rows)
        return
    print_table(["certificate", "target", "plugin", "auto"],
                [[r.certificate, r.target, r.plugin, r.auto] for r in rows])


def run(ctx: typer.Context, cert_id: str = typer.Argument(..., metavar="CERT_ID"),
        target: str | None = typer.Option(None, "--target", help="only this target (default: every mapped one)"),
        wait: bool = typer.Option(False, "--wait", help="wait until each deployment is final"),
        timeout: float = typer.Option(600.0, "--timeout", help="seconds --wait waits"),
        as_json: bool = typer.Option(False, "--json")) -> None:
    """Deploy the certificate's current version now."""
    with services(ctx) as svc:
        ids = [r.id for r in svc.deploy.run(cli_actor(), _id(cert_id), target)]
    outs = _wait(ctx, ids, timeout) if wait else _read(ctx, ids)
    if as_json:
        print_json({"deployments": [_short(o) for o in outs]})
        return
    for out in outs:
        console.print(f"{out.target}: [bold]{out.status}[/] serial {out.serial}"
                      + (f" (served {out.served_serial})" if out.served_serial else "")
                      + (f": {out.reason}" if out.reason else ""), highlight=False)
    if wait and any(o.status != "verified" for o in outs):
        raise typer.Exit(1)


def _short(out: DeploymentOut) -> dict[str, object]:
    data = out.model_dump(mode="json")
    return {"id": data["id"], "target": data["target"], "status": data["status"],
            "served_serial": data["served_serial"], "reason": data["reason"], "serial": data["serial"],
            "certificate": data["certificate"]}


def _read(ctx: typer.Context, ids: list[uuid.UUID]) -> list[DeploymentOut]:
    from certvault.deploy.schemas import DeploymentOut

    with services(ctx) as svc:
        return [DeploymentOut.of(svc.deploy.deployment(cli_actor(), i)) for i in ids]


def _wait(ctx: typer.Context, ids: list[uuid.UUID], timeout: float) -> list[DeploymentOut]:
    """Run jobs in this process (a running server's worker may take them too) until every deployment is final."""
    from certvault.deploy.schemas import FINAL

    worker = state(ctx).app().worker(poll_interval=0.05)
    thread = worker.start_background()
    deadline = time.monotonic() + timeout
    try:
        while True:
            outs = _read(ctx, ids)
            if all(o.status in FINAL for o in outs) or time.monotonic() > deadline:
                return outs
            time.sleep(0.1)
    finally:
        worker.stop()
        thread.join(30)


def listing(ctx: typer.Context, cert: str | None = typer.Option(None, "--cert", metavar="CERT_ID"),
            limit: int = typer.Option(200, "--limit", min=1, max=1000),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """Deployment history, newest first: target, status, served serial and reason."""
    from certvault.deploy.schemas import DeploymentOut

    with services(ctx) as svc:
        rows = [DeploymentOut.of(r) for r in svc.deploy.deployments(cli_actor(), _id(cert) if cert else None, limit)]
    if as_json:
        print_json(rows)
        return
    print_table(["id", "target", "status", "serial", "served", "when", "reason"],
                [[r.id, r.target, r.status, r.serial, r.served_serial or "", r.finished_at or r.created_at,
                  r.reason or ""] for r in rows])

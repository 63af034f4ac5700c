"""folder, secret, service-account and hardening commands (local data directory)."""

from __future__ import annotations

from pathlib import Path

import typer

from certvault.cli.common import cli_actor, console, print_json, print_table, services
from certvault.errors import InvalidInput
from certvault.vault import schemas as s

folder_app = typer.Typer(help="Vault folders and their permissions.", no_args_is_help=True)
secret_app = typer.Typer(help="Vault secrets.", no_args_is_help=True)
account_app = typer.Typer(help="Service accounts for scanners and scripts.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(folder_app, name="folder")
    app.add_typer(secret_app, name="secret")
    app.add_typer(account_app, name="service-account")
    app.command("hardening")(hardening)


def _pairs(items: list[str], what: str) -> dict[str, str]:
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"{what} {item!r} must look like KEY=VALUE")
        result[key] = value
    return result


def _files(items: list[str]) -> dict[str, tuple[str, bytes]]:
    result = {}
    for key, path in _pairs(items, "--file").items():
        file = Path(path)
        if not file.is_file():
            raise InvalidInput(f"--file {key}: {path} is not a readable file")
        result[key] = (file.name, file.read_bytes())
    return result


# ---- folders -------------------------------------------------------------------------------------
@folder_app.command("add")
def folder_add(ctx: typer.Context, name: str, parent: str | None = typer.Option(None, "--parent", help="id or path"),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """Create a folder (at the root, or under --parent)."""
    with services(ctx) as svc:
        out = s.FolderOut.of(svc.vault.folders.create(cli_actor(), name, parent), "owner")
    print_json(out) if as_json else console.print(f"folder {out.path} created ({out.id})", highlight=False)


@folder_app.command("list")
def folder_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """List folders."""
    with services(ctx) as svc:
        folders = [s.FolderOut.listing(item) for item in svc.vault.folders.list_folders(cli_actor())]
    if as_json:
        print_json(folders)
        return
    print_table(["id", "#", "path", "inherits"], [[f.id, f.number, f.path, f.inherit_permissions] for f in folders])


@folder_app.command("grant")
def folder_grant(ctx: typer.Context, folder: str, principal: str = typer.Argument(..., help="user, or group:NAME"),
                 level: str = typer.Argument("view", help="view | edit | owner")) -> None:
    """Give a user or group view, edit or owner on a folder (inherited by its contents)."""
    with services(ctx) as svc:
        svc.vault.folders.grant(cli_actor(), principal=principal, level=level, folder=folder)
    console.print(f"{principal} has {level} on {folder}", highlight=False)


@folder_app.command("revoke")
def folder_revoke(ctx: typer.Context, folder: str, principal: str) -> None:
    """Remove a user's or group's permission on a folder."""
    with services(ctx) as svc:
        svc.vault.folders.revoke(cli_actor(), principal=principal, folder=folder)
    console.print(f"permission of {principal} on {folder} revoked", highlight=False)


# ---- secrets -------------------------------------------------------------------------------------
@secret_app.command("add")
def secret_add(
    ctx: typer.Context,
    folder: str = typer.Option(..., "--folder", help="folder id, number or path"),
    template: str = typer.Option(..., "--template", help="password | ssh-key | api-credential | keystore | generic"),
    name: str = typer.Option(..., "--name"),
    field: list[str] = typer.Option([], "--field", help="KEY=VALUE (repeatable)"),
    file: list[str] = typer.Option([], "--file", help="KEY=PATH for file fields (repeatable)"),
    generate: bool = typer.Option(False, "--generate-password", help="generate the password with the policy"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create a secret from a template."""
    with services(ctx) as svc:
        secret = svc.vault.secrets.create(cli_actor(), folder, name, template, _pairs(field, "--field"), _files(file),
                                          generate_password=generate)
        listing = svc.vault.secrets.get(cli_actor(), secret.id)
        out = s.SecretOut.of(secret, listing.folder, listing.level, svc.vault.secrets.field_list(secret))
    print_json(out) if as_json else console.print(f"secret {out.folder_path}/{out.name} created ({out.id})",
                                                  highlight=False)


@secret_app.command("get")
def secret_get(ctx: typer.Context, secret_id: str, field: str | None = typer.Option(None, "--field"),
               passphrase: str | None = typer.Option(None, "--doublelock-passphrase", envvar="CERTVAULT_DOUBLELOCK"),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """Show a secret's values (audited); with --field print only that value."""
    with services(ctx) as svc:
        read = svc.vault.reader.read(cli_actor(), secret_id, slug=field, passphrase=passphrase, auto_checkout=True)
        out = s.SecretValues(secret=s.SecretOut.of(read.secret, read.folder, read.level, checkout=read.checkout),
                             fields=[s.FieldData.of(v) for v in read.values], withheld=read.withheld)
    if field is not None:
        value = read.values[0]
        if value.is_file:
            typer.echo(value.data, nl=False)
        else:
            typer.echo(value.text)
        return
    if as_json:
        print_json(out)
        return
    console.print(f"[bold]{out.secret.folder_path}/{out.secret.name}[/] ({out.secret.template}, "
                  f"version {out.secret.version})", highlight=False)
    print_table(["field", "value"], [[f.slug, f.value if not f.is_file else f"<file {f.filename}, {f.size} bytes>"]
                                     for f in out.fields])
    for slug in out.withheld:
        console.print(f"{slug}: hidden (usable by integrations, not displayed)", highlight=False)


@secret_app.command("list")
def secret_list(ctx: typer.Context, search: str | None = typer.Option(None, "--search"),
                folder: str | None = typer.Option(None, "--folder"),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """List secrets (no values)."""
    with services(ctx) as svc:
        rows, total = svc.vault.secrets.search(cli_actor(), search, folder, 1000, 0)
        items = [s.SecretOut.of(r.secret, r.folder, r.level) for r in rows]
    if as_json:
        print_json({"items": items, "total": total})
        return
    print_table(["id", "#", "folder", "name", "template", "due"],
                [[i.id, i.number, i.folder_path, i.name, i.template, i.due_at] for i in items])


@secret_app.command("update")
def secret_update(ctx: typer.Context, secret_id: str, field: list[str] = typer.Option([], "--field"),
                  file: list[str] = typer.Option([], "--file"), name: str | None = typer.Option(None, "--name"),
                  generate: bool = typer.Option(False, "--generate-password"),
                  checkout: bool | None = typer.Option(None, "--checkout/--no-checkout"),
                  approval: bool | None = typer.Option(None, "--require-approval/--no-require-approval"),
                  hide: bool | None = typer.Option(None, "--hide-password/--show-password"),
                  rotation_days: int | None = typer.Option(None, "--rotation-days"),
                  passphrase: str | None = typer.Option(None, "--doublelock-passphrase", envvar="CERTVAULT_DOUBLELOCK"),
                  as_json: bool = typer.Option(False, "--json")) -> None:
    """Change values (earlier ones go to history) and protection settings."""
    settings = {k: v for k, v in {"checkout_enabled": checkout, "require_approval": approval, "hide_password": hide,
                                  "rotation_days": rotation_days}.items() if v is not None}
    with services(ctx) as svc:
        svc.vault.secrets.update(cli_actor(), secret_id, fields=_pairs(field, "--field"), files=_files(file),
                                 name=name, passphrase=passphrase, generate_password=generate)
        if settings:
            svc.vault.protection.update_settings(cli_actor(), secret_id, **settings)
        listing = svc.vault.secrets.get(cli_actor(), secret_id)
        fields = svc.vault.secrets.field_list(listing.secret)
        out = s.SecretOut.of(listing.secret, listing.folder, listing.level, fields)
    print_json(out) if as_json else console.print(f"secret {out.name} is at version {out.version}", highlight=False)


@secret_app.command("history")
def secret_history(ctx: typer.Context, secret_id: str, as_json: bool = typer.Option(False, "--json"),
                   passphrase: str | None = typer.Option(None, "--doublelock-passphrase",
                                                         envvar="CERTVAULT_DOUBLELOCK")) -> None:
    """Earlier values of a secret's secret fields (owners only; audited)."""
    with services(ctx) as svc:
        entries = [s.HistoryOut(**e.__dict__) for e in svc.vault.secrets.history(cli_actor(), secret_id, passphrase)]
    if as_json:
        print_json(entries)
        return
    print_table(["version", "field", "value", "replaced", "by"],
                [[e.version, e.slug, e.value, e.replaced_at, e.replaced_by] for e in entries])


@secret_app.command("checkout")
def secret_checkout(ctx: typer.Context, secret_id: str, minutes: int | None = typer.Option(None, "--minutes"),
                    as_json: bool = typer.Option(False, "--json")) -> None:
    """Check a secret out (exclusive until checked in or the period ends)."""
    with services(ctx) as svc:
        out = s.CheckOutOut.of(svc.vault.protection.check_out(cli_actor(), secret_id, minutes))
    print_json(out) if as_json else console.print(f"checked out until {out.expires_at:%Y-%m-%d %H:%M} UTC")  # type: ignore[union-attr]


@secret_app.command("checkin")
def secret_checkin(ctx: typer.Context, secret_id: str, force: bool = typer.Option(False, "--force")) -> None:
    """Check a secret back in (--force: an owner ends someone else's check-out)."""
    with services(ctx) as svc:
        svc.vault.protection.check_in(cli_actor(), secret_id, force=force)
    console.print("checked in")


# ---- service accounts ----------------------------------------------------------------------------
@account_app.command("add")
def account_add(ctx: typer.Context, name: str, folder: list[str] = typer.Option(..., "--folder", help="repeatable"),
                allow_ip: list[str] = typer.Option([], "--allow-ip", help="CIDR it may log in from (repeatable)"),
                alert: list[str] = typer.Option([], "--alert-channel", help="channel for login failure alerts"),
                view_hidden: bool = typer.Option(False, "--view-hidden", help="may read hidden passwords"),
                as_json: bool = typer.Option(False, "--json")) -> None:
    """Create a read-only service account; prints its one-time password."""
    with services(ctx) as svc:
        user, password = svc.vault.accounts.create(cli_actor(), name, folder, allowed_networks=allow_ip,
                                                   view_hidden=view_hidden, alert_channels=alert)
        info = svc.vault.accounts.info(user)
        out = {"id": user.id, "name": user.username, "folders": info.folders,
               "allowed_networks": user.allowed_networks, "one_time_password": password}
    if as_json:
        print_json(out)
        return
    console.print(f"service account {name} created; folders: {', '.join(info.folders)}", highlight=False)
    console.print(f"password (shown once): [bold yellow]{password}[/]", highlight=False)


@account_app.command("list")
def account_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """List service accounts with their folders and address rules."""
    with services(ctx) as svc:
        rows = [(i.user.username, i.folders, i.user.allowed_networks, i.user.locked_until)
                for i in svc.vault.accounts.list_accounts(cli_actor())]
    if as_json:
        print_json([{"name": name, "folders": folders, "allowed_networks": networks, "locked_until": locked}
                    for name, folders, networks, locked in rows])
        return
    print_table(["name", "folders", "allowed from", "locked until"],
                [[name, ", ".join(folders), ", ".join(networks) or "any", locked]
                 for name, folders, networks, locked in rows])


# ---- hardening -----------------------------------------------------------------------------------
def hardening(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """The security hardening report; exits 1 when a check is bad."""
    with services(ctx) as svc:
        report = svc.vault.hardening.report(cli_actor())
        out = s.HardeningOut(generated_at=report.generated_at, status=report.status,
                             checks=[s.HardeningCheck(**c.__dict__) for c in report.checks])
    if as_json:
        print_json(out)
    else:
        colours = {"ok": "green", "warn": "yellow", "bad": "red", "info": "blue"}
        for check in out.checks:
            console.print(f"[{colours[check.status]}]{check.status:>4}[/] {check.name}: {check.summary}",
                          highlight=False)
            for item in check.items[:20]:
                console.print(f"       - {item}", highlight=False)
    if out.status == "bad":
        raise typer.Exit(1)


# ---- notifications -------------------------------------------------------------------------------

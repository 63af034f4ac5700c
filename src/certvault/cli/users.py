"""user, group and token commands."""

from __future__ import annotations

import typer

from certvault.auth.schemas import GroupOut, TokenOut, UserOut
from certvault.cli.common import cli_actor, console, print_json, print_table, services

user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
group_app = typer.Typer(help="Manage groups.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(group_app, name="group")
    app.add_typer(token_app, name="token")


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    username: str,
    role: str = typer.Option("user", help="administrator | operator | auditor | user"),
    password: str | None = typer.Option(None, help="omit to generate a one-time password"),
    email: str | None = typer.Option(None),
    allow_ip: list[str] = typer.Option([], "--allow-ip", help="CIDR allowed to log in (repeatable)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create a user; prints the one-time password when none was given."""
    with services(ctx) as svc:
        user, generated = svc.auth.create_user(cli_actor(), username, role, password=password, email=email,
                                               allowed_networks=allow_ip)
        out = UserOut.model_validate(user)
    if as_json:
        print_json({"user": out, "one_time_password": generated})
    else:
        console.print(f"user {out.username} ({out.role}) created", highlight=False)
        if generated:
            console.print(f"one-time password: [bold yellow]{generated}[/]", highlight=False)


@user_app.command("list")
def user_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """List users and service accounts."""
    with services(ctx) as svc:
        users = [UserOut.model_validate(u) for u in svc.auth.list_users(cli_actor())]
    if as_json:
        print_json(users)
        return
    print_table(["username", "role", "kind", "active", "2fa", "ip rules", "last login"],
                [[u.username, u.role, u.kind, u.is_active, u.totp_enabled, ", ".join(u.allowed_networks),
                  u.last_login_at] for u in users])


@user_app.command("unlock")
def user_unlock(ctx: typer.Context, username: str) -> None:
    """Clear a lockout."""
    with services(ctx) as svc:
        svc.auth.unlock(cli_actor(), username)
    console.print(f"{username} unlocked")


@user_app.command("reset-password")
def user_reset_password(ctx: typer.Context, username: str) -> None:
    """Issue a new one-time password."""
    with services(ctx) as svc:
        password = svc.auth.reset_password(cli_actor(), username)
    console.print(f"one-time password for {username}: [bold yellow]{password}[/]", highlight=False)


@group_app.command("add")
def group_add(ctx: typer.Context, name: str, description: str = "",
              as_json: bool = typer.Option(False, "--json")) -> None:
    """Create a group."""
    with services(ctx) as svc:
        group = svc.auth.create_group(cli_actor(), name, description)
        out = GroupOut(id=group.id, name=group.name, description=group.description, members=[])
    print_json(out) if as_json else console.print(f"group {name} created ({out.id})", highlight=False)


@group_app.command("add-member")
def group_add_member(ctx: typer.Context, group: str, username: str) -> None:
    """Add a user to a group."""
    with services(ctx) as svc:
        svc.auth.add_member(cli_actor(), group, username)
    console.print(f"{username} added to {group}")


@group_app.command("list")
def group_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """List groups with their members."""
    with services(ctx) as svc:
        groups = [GroupOut(id=g.id, name=g.name, description=g.description,
                           members=sorted(m.username for m in g.members))
                  for g in svc.auth.list_groups(cli_actor())]
    if as_json:
        print_json(groups)
        return
    print_table(["name", "members", "description"], [[g.name, ", ".join(g.members), g.description]
                                                      for g in groups])


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    user: str = typer.Option(..., "--user", help="username the token acts as"),
    name: str = typer.Option("", help="a label to recognise it by"),
    days: int | None = typer.Option(None, help="lifetime in days (0 = never expires)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create an API token; it is printed once."""
    with services(ctx) as svc:
        plaintext, token = svc.auth.create_token(cli_actor(), user, name, days)
        info = TokenOut.model_validate(token)
    if as_json:
        print_json({"token": plaintext, "id": info.id, "expires_at": info.expires_at})
    else:
        console.print(f"token (shown once): [bold]{plaintext}[/]", highlight=False)


@token_app.command("list")
def token_list(ctx: typer.Context, user: str = typer.Option(..., "--user"),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """List a user's active tokens (never the token values)."""
    with services(ctx) as svc:
        tokens = [TokenOut.model_validate(t) for t in svc.auth.list_tokens(cli_actor(), user)]
    if as_json:
        print_json(tokens)
        return
    print_table(["id", "name", "prefix", "expires", "last used"],
                [[t.id, t.name, t.prefix + "…", t.expires_at, t.last_used_at] for t in tokens])

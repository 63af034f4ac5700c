"""agent token create, agent list, agent revoke, agent jobs."""

from __future__ import annotations

import re
from datetime import timedelta

import typer

from certvault.cli.common import cli_actor, console, fail, print_json, print_table, services

agent_app = typer.Typer(help="certvault agents on end servers: enrolment tokens, status, revocation.",
                        no_args_is_help=True)
token_app = typer.Typer(help="One-time enrolment tokens.", no_args_is_help=True)
agent_app.add_typer(token_app, name="token")
_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def register(app: typer.Typer) -> None:
    app.add_typer(agent_app, name="agent")


def duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip().lower())
    if not match:
        fail(f"--expires-in {text!r}: write a number and a unit, e.g. 30m, 1h, 2d")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="the agent's name (its certificate's CN and SAN DNS, kept as typed)"),
    expires_in: str = typer.Option("1h", "--expires-in", help="how long the token may be used: 30m, 1h, 2d"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create a one-time enrolment token for agent NAME (shown once)."""
    with services(ctx) as svc:
        token, row = svc.agents.create_token(cli_actor(), name, duration(expires_in))
        info = {"id": str(row.id), "token": token, "agent": row.agent_name, "expires_at": row.expires_at}
        server = svc.settings.server
        url = f"https://{(server.hostnames or [server.host])[0]}:{server.port}"
    if as_json:
        print_json(info)
        return
    console.print(f"enrolment token for {name} (one use, until {row.expires_at:%Y-%m-%d %H:%M} UTC):\n{token}\n"
                  f"on the end server: certvault-agent enroll --server {url} --token {token} "
                  "--ca-file certvault-ca.pem", highlight=False, soft_wrap=True)


@agent_app.command("list")
def list_agents(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Agents with their certificate serial and expiry and when they were last seen."""
    from certvault.agents.schemas import AgentOut

    with services(ctx) as svc:
        rows = [AgentOut.of(agent, cert) for agent, cert in svc.agents.agents(cli_actor())]
    if as_json:
        print_json(rows)
        return
    print_table(["name", "status", "serial", "expires", "last seen", "address"],
                [[r.name, r.status, r.serial or "", r.not_after or "", r.last_seen_at or "", r.last_address or ""]
                 for r in rows])


@agent_app.command("revoke")
def revoke(ctx: typer.Context, name: str) -> None:
    """Revoke agent NAME: its next call is refused and its certificates are revoked."""
    with services(ctx) as svc:
        svc.agents.revoke(cli_actor(), name)
    console.print(f"agent {name} revoked", highlight=False)


@agent_app.command("jobs")
def jobs(ctx: typer.Context, agent: str | None = typer.Option(None, "--agent"),
         as_json: bool = typer.Option(False, "--json")) -> None:
    """Recent agent jobs and their outcome."""
    from certvault.agents.schemas import JobOut

    with services(ctx) as svc:
        rows = [JobOut.of(job, name) for job, name in svc.agents.jobs(cli_actor(), agent)]
    if as_json:
        print_json(rows)
        return
    print_table(["id", "agent", "kind", "state", "attempts", "error"],
                [[r.id, r.agent, r.kind, r.state, r.attempts, r.error or ""] for r in rows])

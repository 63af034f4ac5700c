"""`certvault notify ...`: channels (generated from the notify plugins, cli/integrations.py), subscriptions,
policies (expiry / vulnerability digests on a schedule), the expiry report and the outbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from certvault.cli.common import cli_actor, console, fail, print_json, print_table, services
from certvault.cli.integrations import AccountKind, account_app


def _subscribe_events(svc: Any, channel: Any, values: dict[str, Any]) -> None:
    for event in values.get("event") or []:
        svc.notifications.subscribe(cli_actor(), channel.id, event)


def send_test(ctx: typer.Context, name: str, as_json: bool) -> None:
    """Send a test message now and report whether the channel accepted it."""
    with services(ctx) as svc:
        message = svc.notifications.send_test(cli_actor(), name, by_job=False)
        delivery = svc.notifications.prepare_delivery(message.id)
    assert delivery is not None
    error = None
    try:
        delivery.notifier.send(delivery.notification)
    except Exception as exc:  # report any failure as the channel's answer
        error = getattr(exc, "message", str(exc))
    with services(ctx) as svc:
        if error is None:
            svc.notifications.mark_sent(message.id)
        else:
            svc.notifications.record_failure(message.id, error, final=True)
    if as_json:
        print_json({"channel": name, "delivered": error is None, "error": error})
    elif error is None:
        console.print(f"test message delivered through {name}", highlight=False)
    if error is not None:
        fail(f"channel {name}: {error}") if not as_json else None
        raise typer.Exit(1)


CHANNELS = AccountKind(
    "notify", "channel", name_argument=True, after_add=_subscribe_events, test=send_test,
    extra={"event": (list[str] | None, typer.Option(None, "--event", help="subscribe to this event (repeat)"))})


def register(app: typer.Typer) -> None:
    notify_app = typer.Typer(help="Notification channels and subscriptions.", no_args_is_help=True)
    notify_app.add_typer(account_app(CHANNELS, "Notification channels (email, syslog, webhook, ...)."),
                         name="channel")
    notify_app.command("subscribe")(subscribe)
    policy_app = typer.Typer(help="Notification policies: expiry and vulnerability digests.", no_args_is_help=True)
    policy_app.command("add")(policy_add)
    policy_app.command("list")(policy_list)
    policy_app.command("run")(policy_run)
    policy_app.command("set")(policy_set)
    policy_app.command("enable")(policy_enable)
    policy_app.command("disable")(policy_disable)
    policy_app.command("delete")(policy_delete)
    notify_app.add_typer(policy_app, name="policy")
    report_app = typer.Typer(help="Reports.", no_args_is_help=True)
    report_app.command("expiry")(report_expiry)
    notify_app.add_typer(report_app, name="report")
    notify_app.command("outbox")(outbox)
    notify_app.command("retry")(retry)
    app.add_typer(notify_app, name="notify")


# ---- policies --------------------------------------------------------------------------------------------
def _policy_out(svc: Any, policy: Any) -> Any:
    from certvault.notifications.schemas import PolicyOut

    return PolicyOut.of(policy, svc.notification_policies.channel_names(policy))


def _filters(tags: list[str] | None, issuers: list[str] | None, owners: list[str] | None,
             origin: str | None) -> dict[str, Any]:
    found = {"tags": tags, "issuers": issuers, "owners": owners, "origin": origin}
    return {k: v for k, v in found.items() if v}


TAGS = typer.Option(None, "--tag", help="only certificates with this tag (repeat: any of them)")
ISSUERS = typer.Option(None, "--issuer", help="only certificates whose issuer contains this (repeat)")
OWNERS = typer.Option(None, "--owner", help="only certificates whose owner contains this (repeat)")
ORIGIN = typer.Option(None, "--origin", help="managed | discovered (default: both)")
JSON = typer.Option(False, "--json", help="print only JSON")


def policy_add(
    ctx: typer.Context, name: str,
    kind: str = typer.Option("expiry", "--kind", help="expiry | vulnerability | report"),
    within_days: int = typer.Option(30, "--within-days", help="the expiry window, in days"),
    schedule: str = typer.Option("daily 08:00", "--schedule", help='"daily 08:00" or "weekly mon,thu 07:30"'),
    timezone: str = typer.Option("UTC", "--timezone", help="IANA name, e.g. Europe/Berlin"),
    channel: list[str] | None = typer.Option(None, "--channel", help="send to this channel (repeat); "
                                                                    "none: the administrators' email"),
    scope: str = typer.Option("new", "--scope", help="vulnerability: new (since the last run) | all"),
    tag: list[str] | None = TAGS, issuer: list[str] | None = ISSUERS, owner: list[str] | None = OWNERS,
    origin: str | None = ORIGIN, as_json: bool = JSON,
) -> None:
    """Add a policy: collate certificates in a window (or weak endpoints after scans) into one digest per channel."""
    from certvault.notifications.policies import PolicySpec

    spec = PolicySpec(name, kind, within_days, schedule, timezone, _filters(tag, issuer, owner, origin), scope)
    with services(ctx) as svc:
        out = _policy_out(svc, svc.notification_policies.add(cli_actor(), spec, channel or []))
    if as_json:
        print_json(out)
        return
    when = "after each scan" if out.kind == "vulnerability" else f"{out.schedule} {out.timezone}"
    to = ", ".join(out.channels) or "the administrators' email"
    console.print(f"policy {out.name} added ({out.kind}, {when}, to {to})", highlight=False)


def policy_list(ctx: typer.Context, as_json: bool = JSON) -> None:
    """The policies, their schedules, channels and last results."""
    with services(ctx) as svc:
        rows = [_policy_out(svc, p) for p in svc.notification_policies.list_policies(cli_actor())]
    if as_json:
        print_json(rows)
        return
    print_table(("Name", "Kind", "Window", "Schedule", "Channels", "Enabled", "Next run", "Last result"),
                [(p.name, p.kind, f"{p.within_days} d", "after scans" if p.kind == "vulnerability"
                  else f"{p.schedule} {p.timezone}", ", ".join(p.channels) or "administrators' email",
                  "yes" if p.enabled else "no", p.next_run_at.isoformat() if p.next_run_at else "",
                  ", ".join(f"{k}={v}" for k, v in p.last_result.items() if k in ("certificates", "endpoints")))
                 for p in rows])


def policy_run(ctx: typer.Context, name: str, as_json: bool = JSON) -> None:
    """Run a policy now: its digests go to the outbox (and out, when a worker or the server runs)."""
    with services(ctx) as svc:
        result = svc.notification_policies.run(cli_actor(), name)
    if as_json:
        print_json(result)
        return
    found = result.get("certificates", result.get("endpoints", 0))
    console.print(f"policy {name}: {found} found, {len(result['messages'])} digests queued "
                  f"({', '.join(result['channels']) or 'no channel'})", highlight=False)


def policy_set(
    ctx: typer.Context, name: str,
    within_days: int | None = typer.Option(None, "--within-days", help="the expiry window, in days"),
    schedule: str | None = typer.Option(None, "--schedule", help='"daily 08:00" or "weekly mon,thu 07:30"'),
    timezone: str | None = typer.Option(None, "--timezone", help="IANA name, e.g. Europe/Berlin"),
    channel: list[str] | None = typer.Option(None, "--channel", help="replace the channels (repeat)"),
    admins: bool = typer.Option(False, "--admins", help="to the administrators' email (no named channel)"),
    scope: str | None = typer.Option(None, "--scope", help="vulnerability: new | all"),
    tag: list[str] | None = TAGS, issuer: list[str] | None = ISSUERS, owner: list[str] | None = OWNERS,
    origin: str | None = ORIGIN, as_json: bool = JSON,
) -> None:
    """Change a policy: only the options given (filters given replace the policy's filters)."""
    changes: dict[str, Any] = {k: v for k, v in {"within_days": within_days, "schedule": schedule,
                                                 "timezone": timezone, "scope": scope}.items() if v is not None}
    filters = _filters(tag, issuer, owner, origin)
    if filters:
        changes["filters"] = filters
    channels = [] if admins else (channel or None)
    with services(ctx) as svc:
        out = _policy_out(svc, svc.notification_policies.update(cli_actor(), name, changes, channels))
    if as_json:
        print_json(out)
    else:
        console.print(f"policy {out.name} saved", highlight=False)


def _set_enabled(ctx: typer.Context, name: str, enabled: bool) -> None:
    with services(ctx) as svc:
        svc.notification_policies.update(cli_actor(), name, {"enabled": enabled})
    console.print(f"policy {name} {'enabled' if enabled else 'disabled'}", highlight=False)


def policy_enable(ctx: typer.Context, name: str) -> None:
    """Enable a policy."""
    _set_enabled(ctx, name, True)


def policy_disable(ctx: typer.Context, name: str) -> None:
    """Disable a policy (the default one too)."""
    _set_enabled(ctx, name, False)


def policy_delete(ctx: typer.Context, name: str) -> None:
    """Delete a policy (the default one can only be disabled)."""
    with services(ctx) as svc:
        svc.notification_policies.delete(cli_actor(), name)
    console.print(f"policy {name} deleted", highlight=False)


# ---- report and outbox ---------------------------------------------------------------------------------------
def report_expiry(
    ctx: typer.Context,
    within_days: int = typer.Option(30, "--within-days", help="the expiry window, in days"),
    csv: Path = typer.Option(..., "--csv", help="write the report here as CSV"),
    tag: list[str] | None = TAGS, issuer: list[str] | None = ISSUERS, owner: list[str] | None = OWNERS,
    origin: str | None = ORIGIN, as_json: bool = JSON,
) -> None:
    """Certificates expiring within the window (and expired ones), as CSV."""
    with services(ctx) as svc:
        filters = _filters(tag, issuer, owner, origin)
        data = svc.notification_policies.expiry_report_csv(cli_actor(), within_days, filters)
    csv.write_bytes(data)
    rows = max(data.count(b"\r\n") - 1, 0)
    if as_json:
        print_json({"file": str(csv), "certificates": rows, "within_days": within_days})
    else:
        console.print(f"{rows} certificates written to {csv}", highlight=False)


def outbox(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="pending | failed | sent (default: pending and failed)"),
    limit: int = typer.Option(100, "--limit", min=1, max=500),
    as_json: bool = JSON,
) -> None:
    """Messages waiting for a channel (pending, retried with backoff) or given up on (failed)."""
    from certvault.notifications.schemas import OutboxOut

    with services(ctx) as svc:
        names = {c.id: c.name for c in svc.notifications.list_channels(cli_actor())}
        states = [status] if status else ["pending", "failed"]
        rows = [OutboxOut.of(m, names.get(m.channel_id)) for s in states
                for m in svc.notifications.list_outbox(cli_actor(), limit, status=s)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print(f"no {status or 'pending or failed'} message", highlight=False)
        return
    print_table(("Id", "Channel", "Event", "Title", "Status", "Attempts", "Last error", "Created"),
                [(m.id, m.channel, m.event, m.title, m.status, m.attempts, m.last_error or "", m.created_at.isoformat())
                 for m in rows])


def retry(ctx: typer.Context, message_id: str, as_json: bool = JSON) -> None:
    """Send a failed outbox message again (it goes back to pending)."""
    import uuid

    try:
        ref = uuid.UUID(message_id)
    except ValueError:
        fail(f"{message_id!r} is not a message id (see `certvault notify outbox`)")
    with services(ctx) as svc:
        message = svc.notifications.retry_message(cli_actor(), ref)
        out = {"id": str(message.id), "status": message.status}
    if as_json:
        print_json(out)
    else:
        console.print(f"message {message_id} is pending again", highlight=False)


def subscribe(ctx: typer.Context, channel: str, event: str,
              subject: str | None = typer.Option(None, "--subject", help="only for this account/secret")) -> None:
    """Send an event (e.g. service_account.locked, secret.*, *) to a channel."""
    with services(ctx) as svc:
        svc.notifications.subscribe(cli_actor(), channel, event, subject)
    console.print(f"{event} goes to {channel}", highlight=False)

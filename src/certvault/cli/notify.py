"""`certvault notify ...`: channels (generated from the notify plugins, cli/integrations.py) and subscriptions."""

from __future__ import annotations

from typing import Any

import typer

from certvault.cli.common import cli_actor, console, fail, print_json, services
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
    app.add_typer(notify_app, name="notify")


def subscribe(ctx: typer.Context, channel: str, event: str,
              subject: str | None = typer.Option(None, "--subject", help="only for this account/secret")) -> None:
    """Send an event (e.g. service_account.locked, secret.*, *) to a channel."""
    with services(ctx) as svc:
        svc.notifications.subscribe(cli_actor(), channel, event, subject)
    console.print(f"{event} goes to {channel}", highlight=False)

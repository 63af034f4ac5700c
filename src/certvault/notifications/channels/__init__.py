"""Channel kinds by name. Each is a leaf: validated options and its secret in, `send()` out."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from certvault.errors import InvalidInput
from certvault.notifications.channels.email import EmailNotifier, EmailOptions
from certvault.notifications.channels.syslog import SyslogNotifier, SyslogOptions
from certvault.notifications.channels.webhook import WebhookNotifier, WebhookOptions
from certvault.plugins.protocols import Notifier

CHANNEL_KINDS: dict[str, tuple[type[BaseModel], Any]] = {
    "email": (EmailOptions, EmailNotifier),
    "syslog": (SyslogOptions, SyslogNotifier),
    "webhook": (WebhookOptions, WebhookNotifier),
}


def validate_options(kind: str, options: dict[str, Any], secret: str | None) -> BaseModel:
    """Check a channel's options; the error names the field and what is wrong with it."""
    if kind not in CHANNEL_KINDS:
        raise InvalidInput(f"unknown channel kind {kind!r}; choose one of {', '.join(sorted(CHANNEL_KINDS))}")
    model, notifier = CHANNEL_KINDS[kind]
    try:
        parsed = model.model_validate(options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "options"
        raise InvalidInput(f"{kind} channel option {where}: {first['msg']}") from None
    notifier.check_secret(parsed, secret)
    return parsed


def build_notifier(kind: str, options: dict[str, Any], secret: str | None) -> Notifier:
    parsed = validate_options(kind, options, secret)
    _model, notifier = CHANNEL_KINDS[kind]
    return notifier(parsed, secret)  # type: ignore[no-any-return]

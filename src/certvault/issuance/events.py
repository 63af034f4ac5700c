"""In-process events of the ACME lifecycle (issued, renewed, failed, revoked, ARI asks to renew now).

Subscribers run in the transaction that made the change, so a notification outbox row commits or
rolls back with it. Subscribe by listing "module:function" in SUBSCRIBERS (resolved lazily, like
api.metrics.PROVIDERS) or, at run time, by appending a callable to app.extras["acme.subscribers"].
"""

from __future__ import annotations

import importlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from certvault.context import ServiceContext

log = logging.getLogger("certvault.issuance")

ISSUED, RENEWED, FAILED, REVOKED, ARI_RENEW_NOW = "issued", "renewed", "failed", "revoked", "ari_renew_now"

SUBSCRIBERS: tuple[str, ...] = ()


@dataclass(frozen=True)
class AcmeEvent:
    kind: str  # issued | renewed | failed | revoked | ari_renew_now
    names: tuple[str, ...]
    ca_name: str
    order_id: uuid.UUID | None = None
    certificate_entry_id: uuid.UUID | None = None
    serial: str | None = None
    not_after: datetime | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


Subscriber = Callable[[ServiceContext, AcmeEvent], None]


def _subscribers(ctx: ServiceContext) -> list[Subscriber]:
    found: list[Subscriber] = []
    for ref in SUBSCRIBERS:
        module, _, attr = ref.partition(":")
        found.append(getattr(importlib.import_module(module), attr))
    found.extend(ctx.extras.get("acme.subscribers", []))
    return found


def publish(ctx: ServiceContext, event: AcmeEvent) -> None:
    """Deliver to every subscriber; one failing subscriber never undoes the certificate."""
    for subscriber in _subscribers(ctx):
        try:
            with ctx.session.begin_nested():
                subscriber(ctx, event)
        except Exception:
            log.exception("ACME event subscriber %r failed for %s", subscriber, event.kind)

"""Events of the ACME lifecycle, appended to the domain-event outbox in the transaction that made the change
(collected by events/catalogue.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from certvault.context import ServiceContext
from certvault.events.catalogue import EventType

ISSUED, RENEWED, REVOKED = "certificate.issued", "certificate.renewed", "certificate.revoked"
FAILED, ARI_RENEW_NOW = "acme.order_failed", "acme.ari_renew_now"

EVENTS = (
    EventType(ISSUED, "a certificate was issued through ACME and stored in the inventory"),
    EventType(RENEWED, "a certificate was renewed through ACME and its new version stored"),
    EventType(REVOKED, "a certificate was revoked at its CA"),
    EventType(FAILED, "an ACME order failed"),
    EventType(ARI_RENEW_NOW, "the CA asks (ACME Renewal Information) for a certificate to be renewed now"),
)
_WORDS = {  # title, body, severity
    ISSUED: ("Certificate for {first} issued", "{ca} issued a certificate for {names}{validity}.", "info"),
    RENEWED: ("Certificate for {first} renewed", "{ca} renewed the certificate for {names}{validity}.", "info"),
    REVOKED: ("Certificate for {first} revoked", "The certificate for {names}{validity} was {message} at {ca}.",
              "warning"),
    FAILED: ("ACME order for {first} failed", "The order for {names} at {ca} failed: {message}", "warning"),
    ARI_RENEW_NOW: ("{ca} asks to renew the certificate for {first} now",
                    "{ca} asks for the certificate for {names}{validity} to be renewed now.", "warning"),
}


def publish(ctx: ServiceContext, type: str, names: Sequence[str], ca_name: str, *, message: str = "",
            order_id: uuid.UUID | None = None, certificate_id: uuid.UUID | None = None, serial: str | None = None,
            not_after: datetime | None = None, **details: Any) -> None:
    title, body, severity = _WORDS[type]
    validity = f" (serial {serial}, valid until {not_after:%Y-%m-%d})" if serial and not_after else ""
    words = {"first": names[0] if names else "?", "names": ", ".join(names[:20]), "ca": ca_name or "the CA",
             "message": message, "validity": validity}
    ctx.events.publish(type, title=title.format(**words), body=body.format(**words), severity=severity,
                       subject=names[0] if names else None,
                       payload={"names": list(names[:100]), "ca": ca_name, "order": order_id,
                                "certificate": certificate_id, "serial": serial, "not_after": not_after,
                                "message": message or None, **details})

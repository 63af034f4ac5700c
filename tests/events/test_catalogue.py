"""The known events are what the domains declare; subscriptions must name one; a bulk import is one event."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.errors import InvalidInput
from certvault.events.catalogue import EVENT_MODULES, known, require_known
from certvault.events.models import DomainEvent
from tests.certificates.factory import make_ca, make_leaf

ADMIN = Actor.system("events-test", via="cli")


def test_every_domain_declares_its_own_events() -> None:
    names = known()
    assert {"certificate.renewed", "acme.order_failed", "scan.weakness_found", "secret.expiring",
            "service_account.locked"} <= set(names)
    assert all(description and not description.endswith(".") for description in names.values())
    assert len(EVENT_MODULES) == len(set(EVENT_MODULES)) >= 6  # one module per domain, each listed once
    with pytest.raises(ValueError, match="not declared"):
        require_known("certificate.exploded")  # publishing an undeclared event is a programming error


def test_subscriptions_name_a_known_event_a_prefix_or_everything(sqlite_app: App) -> None:
    with sqlite_app.transaction() as svc:
        channel = svc.notifications.create_channel(ADMIN, "hook", "webhook", {"url": "https://hooks.example/x"})
        for pattern in ("scan.weakness_found", "certificate.*", "*", " acme.order_failed "):
            assert svc.notifications.subscribe(ADMIN, channel.id, pattern).event == pattern.strip()
        for pattern, problem in (("scan.weakness_fund", "no event is called"), ("tickets.*", "no event is called"),
                                 ("Not An Event", "is not an event name")):
            with pytest.raises(InvalidInput, match=problem):
                svc.notifications.subscribe(ADMIN, channel.id, pattern)


def test_an_import_of_many_certificates_is_one_event(sqlite_app: App) -> None:
    ca = make_ca()
    bundle = b"".join(make_leaf(ca, f"host{n}.example.test").pem for n in range(25))
    with sqlite_app.transaction() as svc:
        svc.certificates.import_data(ADMIN, bundle, "fleet.pem")
        svc.certificates.import_data(ADMIN, bundle, "fleet-again.pem")  # nothing new: no event
    with sqlite_app.sessions() as session:
        [event] = session.scalars(select(DomainEvent).where(DomainEvent.type == "certificate.imported")).all()
    assert (event.subject, event.payload["certificates"], event.payload["created"]) == ("fleet.pem", 25, 25)
    assert len(event.payload["entries"]) == 20 and event.body.startswith("25 certificates in fleet.pem: 25 new")

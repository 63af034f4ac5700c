"""A consumer for the tests: it records each event it reads in a table of its own, in the consume job's
transaction, so a test sees exactly the effects that committed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, MetaData, String, Table, select

from certvault.container import App
from certvault.events import consumers
from certvault.events.models import DomainEvent

READS = Table("test_event_reads", MetaData(), Column("consumer", String(50)), Column("event_id", BigInteger))
HOOKS: dict[str, Callable[[Any, DomainEvent], None]] = {}  # consumer name -> called before recording


def _record(name: str, services: Any, event: DomainEvent) -> None:
    if name in HOOKS:
        HOOKS[name](services, event)
    services.session.execute(READS.insert().values(consumer=name, event_id=event.id))


def first(services: Any, event: DomainEvent) -> None:
    _record("first", services, event)


def second(services: Any, event: DomainEvent) -> None:
    _record("second", services, event)


@contextmanager
def registered(monkeypatch: pytest.MonkeyPatch, app: App, *names: str) -> Iterator[None]:
    """List probe consumers (`first`, `second`) the way a release lists its consumers."""
    READS.create(app.engine, checkfirst=True)
    for name in names:
        monkeypatch.setitem(consumers.CONSUMERS, name, consumers.Consumer(name, f"tests.events.probe:{name}"))
    try:
        yield
    finally:
        HOOKS.clear()


def reads(app: App, name: str) -> list[int]:
    with app.engine.connect() as conn:
        return sorted(conn.scalars(select(READS.c.event_id).where(READS.c.consumer == name)))


def publish(app: App, count: int = 1, type: str = "secret.expiring") -> list[int]:
    """Append `count` events in one transaction; returns their ids."""
    with app.transaction() as svc:
        events = [svc.ctx.events.publish(type, title=f"test event {n}", subject=f"s{n}") for n in range(count)]
        svc.session.flush()
        return [e.id for e in events]

"""A small in-process HelpDesk (plugins/protocols.py) for the rule-table tests: tickets, statuses, notes and
correlation keys kept in memory per store name; final states and failures on demand. The end-to-end tests
use the real plugins against the HTTPS fakes instead."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel

from certvault.errors import Conflict, IntegrationError
from certvault.outbound import OutboundError
from certvault.plugins.protocols import RemoteTicket, TicketDraft

DONE = ("resolved", "canceled", "closed")


@dataclass
class Ticket:
    number: str
    subject: str
    body: str
    correlation: str
    state: str = "open"
    notes: list[str] = field(default_factory=list)


@dataclass
class Store:
    tickets: dict[str, Ticket] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    final: tuple[str, ...] = ()  # states reopen refuses (ServiceNow: closed, canceled)
    down: int = 0  # the next N calls fail as if the help desk were unreachable
    refuse: int = 0  # the next N status changes are silently refused (read-back shows the old state)
    numbers: Any = field(default_factory=lambda: itertools.count(1))

    def ticket(self, correlation: str) -> list[Ticket]:
        return [t for t in self.tickets.values() if t.correlation == correlation]


STORES: dict[str, Store] = {}


class DoubleDesk:
    name: ClassVar[str] = "double"
    title: ClassVar[str] = "In-process help desk (tests)"
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)

    class Options(BaseModel):
        store: str

    def __init__(self, options: Options, secrets: Any, http: Any) -> None:
        self.store = STORES.setdefault(options.store, Store())

    def _call(self, what: str) -> None:
        self.store.calls[what] += 1
        if self.store.down:
            self.store.down -= 1
            raise OutboundError("double: connection refused")

    def _remote(self, t: Ticket) -> RemoteTicket:
        return RemoteTicket(t.number, t.state, f"https://double.test/{t.number}", t.state.title())

    def check(self) -> str:
        self._call("check")
        return "double help desk"

    def find(self, correlation_key: str) -> RemoteTicket | None:
        self._call("find")
        found = self.store.ticket(correlation_key)
        return self._remote(found[-1]) if found else None

    def create(self, draft: TicketDraft) -> RemoteTicket:
        self._call("create")
        ticket = Ticket(f"D-{next(self.store.numbers)}", draft.subject, draft.body, draft.correlation_key)
        self.store.tickets[ticket.number] = ticket
        return self._remote(ticket)

    def read(self, number: str) -> RemoteTicket:
        self._call("read")
        return self._remote(self.store.tickets[number])

    def read_many(self, numbers: Sequence[str]) -> dict[str, RemoteTicket]:
        self._call("read_many")
        return {n: self._remote(self.store.tickets[n]) for n in numbers if n in self.store.tickets}

    def add_note(self, number: str, text: str) -> None:
        self._call("add_note")
        self.store.tickets[number].notes.append(text)

    def _change(self, number: str, state: str, note: str) -> RemoteTicket:
        ticket = self.store.tickets[number]
        ticket.notes.append(note)
        if self.store.refuse:
            self.store.refuse -= 1
        else:
            ticket.state = state
        if ticket.state != state:
            raise IntegrationError(f"double: ticket {number} stayed {ticket.state} (a business rule refused {state})")
        return self._remote(ticket)

    def reopen(self, number: str, note: str) -> RemoteTicket:
        self._call("reopen")
        if self.store.tickets[number].state in self.store.final:
            raise Conflict(f"double: ticket {number} is {self.store.tickets[number].state}; it cannot be reopened")
        return self._change(number, "in_progress", note)

    def resolve(self, number: str, note: str) -> RemoteTicket:
        self._call("resolve")
        return self._change(number, "resolved", note)

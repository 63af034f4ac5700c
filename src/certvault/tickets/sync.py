"""The rules of issue 13, applied to one help desk at a time, with the network outside every transaction.

1. `plan` (one short read): what is expiring, what is vulnerable or clean again, what was renewed, and the
   local records.
2. Statuses: every ticket the rules look at is read in batches (`read_many`, 100 numbers a call).
3. Decide per item: create / leave alone / reopen / new ticket naming the old / add note / resolve.
   Nothing to change: the records are touched locally (one UPDATE per group), the help desk gets no write.
4. Changes, a chunk at a time: `claim` leases the records (inserting new ones as pending creates) under a
   lock; the help desk is called; `store` writes the answers. A create always searches the correlation key
   first, so a crash between the remote create and `store`, a retried job or a second sync adopts the ticket
   instead of making another. A help desk that is down stops the sync: the work stays pending and the job
   is retried with backoff.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from certvault.errors import CertvaultError, Conflict, IntegrationError
from certvault.plugins.protocols import RemoteTicket
from certvault.tickets import texts
from certvault.tickets.connection import CallCounter
from certvault.tickets.service import Answer, Claim, Plan, RecordView
from certvault.tickets.sources import ScannedEndpoint

ACTIVE = frozenset({"open", "in_progress", "on_hold"})
DONE = frozenset({"resolved", "canceled", "closed"})
OUTCOMES = ("created", "noted", "reopened", "resolved", "unchanged", "failed")
READ_BATCH = 100
CHUNK = 50
DEFAULT_WITHIN_DAYS = 30
Step = Callable[[], AbstractContextManager[Any]]  # a short transaction yielding the bound services


@dataclass
class SyncReport:
    created: list[dict[str, Any]] = field(default_factory=list)
    noted: list[dict[str, Any]] = field(default_factory=list)
    reopened: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    api_calls: int = 0
    retry: bool = False  # a help desk was unreachable: run again later

    def as_dict(self) -> dict[str, list[dict[str, Any]]]:
        return {name: getattr(self, name) for name in OUTCOMES}

    def add(self, outcome: str, helpdesk: str, kind: str, key: str, number: str | None, **more: Any) -> None:
        getattr(self, outcome).append({"helpdesk": helpdesk, "kind": kind, "key": key, "number": number, **more})


@dataclass(frozen=True)
class Item:
    """One thing the rules decided to do at the help desk."""

    kind: str
    key: str
    action: str  # create | reopen | note | resolve
    record: RecordView | None
    details: dict[str, Any]
    facts: Any = None  # ExpiryFacts, or the ScannedEndpoint whose facts are read when needed
    renewed: Any = None  # the new version, for the renewal note


class Unavailable(Exception):
    """The help desk cannot be reached (or keeps answering 5xx/429): stop, keep the work pending."""


def _retryable(exc: BaseException) -> bool:
    """The help desk was unreachable or overloaded (a transport failure, 408/429/5xx after the outbound
    client's own retries): the plugins keep the outbound error's details (`host`, `status`) when they word it
    for their help desk. A refusal (4xx, a business rule keeping a status) is not retried by backoff."""
    from certvault.outbound import OutboundError

    if isinstance(exc, OutboundError):
        return True
    details = getattr(exc, "details", None) or {}
    if "host" not in details:
        return False
    status = details.get("status")
    return status is None or (isinstance(status, int) and (status in (408, 425, 429) or status >= 500))


class TicketSync:
    def __init__(self, step: Step, owner: str | None = None, *, public_url: str = "",
                 lease: timedelta = timedelta(seconds=120), within_days: int = DEFAULT_WITHIN_DAYS) -> None:
        self._step = step
        self.owner = owner or f"sync:{secrets.token_hex(6)}"
        self.public_url = public_url
        self.lease = lease
        self.within_days = within_days

    def run(self, helpdesks: Sequence[uuid.UUID] | None = None) -> SyncReport:
        report = SyncReport()
        if helpdesks is None:
            with self._step() as svc:
                helpdesks = svc.tickets.enabled_helpdesks()
                self.public_url = self.public_url or svc.settings.server.effective_public_url
        for account_id in helpdesks:
            HelpDeskRun(self, account_id, report).run()
        return report


class HelpDeskRun:
    def __init__(self, sync: TicketSync, account_id: uuid.UUID, report: SyncReport) -> None:
        self.sync, self.account_id, self.report = sync, account_id, report
        self.counter = CallCounter()
        self.name = str(account_id)
        self.desk: Any = None

    def run(self) -> None:
        try:
            plan = self._plan()
        except CertvaultError as exc:
            self.report.add("failed", self.name, "", "", None, error=exc.message)
            self.report.retry = self.report.retry or _retryable(exc)
            return
        try:
            items = self._decide(plan)
            self._apply(items)
        except Unavailable:
            self.report.retry = True
        finally:
            self.report.api_calls += self.counter.calls
            close = getattr(self.desk, "close", None)
            if close is not None:
                close()

    # ---- 1. plan ---------------------------------------------------------------------------------
    def _plan(self) -> Plan:
        with self.sync._step() as svc:
            plan: Plan = svc.tickets.plan(self.account_id, self.sync.within_days)
            self.name = plan.name
            self.sync.public_url = self.sync.public_url or svc.settings.server.effective_public_url
            account = svc.tickets.account(self.account_id)
            self.desk = svc.tickets.helpdesk(account, "sync", self.counter)
        return plan

    # ---- 2 + 3. read statuses and decide ----------------------------------------------------------
    def _decide(self, plan: Plan) -> list[Item]:
        wanted: list[tuple[str, str, Any, dict[str, Any]]] = []  # kind, key, facts, details
        for cert in plan.expiring:
            wanted.append(("expiry", cert.facts.serial, cert.facts,
                           {"common_name": cert.facts.common_name, "serial": cert.facts.serial, "ip": cert.facts.ip,
                            "entry_id": cert.entry_id}))
        for endpoint in plan.vulnerable:
            wanted.append(("vulnerability", endpoint.key, endpoint,
                           {"domain": endpoint.domain, "ip": endpoint.ip, "endpoint_id": endpoint.endpoint_id}))
        resolving = self._resolving(plan)
        numbers = [r.number for kind, key, *_ in wanted if (r := plan.records.get((kind, key))) and r.number]
        numbers += [r.number for r, _ in resolving if r.number]
        try:
            remote = self._statuses(numbers)
        except IntegrationError as exc:  # nothing was written: every item waits for the next sync
            shown = [(kind, key, r.number if (r := plan.records.get((kind, key))) else None)
                     for kind, key, *_ in wanted] + [(r.kind, r.key, r.number) for r, _ in resolving]
            for kind, key, number in shown:
                self.report.add("failed", self.name, kind, key, number, error=exc.message, pending=True)
            raise Unavailable(exc.message) from exc
        items: list[Item] = []
        untouched: dict[tuple[str, str], tuple[str, str, bool]] = {}
        for kind, key, facts, details in wanted:
            record = plan.records.get((kind, key))
            item = self._wanted(kind, key, facts, details, record, remote)
            if item is None:
                assert record is not None and record.number is not None
                ticket = remote[record.number]
                untouched[(kind, key)] = (ticket.state, ticket.remote_status, False)
                self.report.add("unchanged", self.name, kind, key, record.number, status=ticket.state)
            else:
                items.append(item)
        for record, extra in resolving:
            read = remote.get(record.number or "")
            if read is not None and read.state in ACTIVE:
                items.append(Item(record.kind, record.key, "resolve", record, {}, extra[0], extra[1]))
            elif read is not None:  # already done at the help desk: certvault stops looking at it
                untouched[(record.kind, record.key)] = (read.state, read.remote_status, True)
                self.report.add("unchanged", self.name, record.kind, record.key, record.number, status=read.state)
        if untouched:
            with self.sync._step() as svc:
                svc.tickets.touch(self.account_id, untouched)
        return items

    def _resolving(self, plan: Plan) -> list[tuple[RecordView, tuple[Any, Any]]]:
        out: list[tuple[RecordView, tuple[Any, Any]]] = []
        if plan.settings["resolve_on_renewal"]:
            out += [(plan.records[("expiry", key)], (None, new)) for key, new in plan.renewed.items()]
        for endpoint in plan.clean:
            record = plan.records.get(("vulnerability", endpoint.key))
            if record and record.number and not record.resolved:
                out.append((record, (endpoint, None)))
        return out

    def _wanted(self, kind: str, key: str, facts: Any, details: dict[str, Any], record: RecordView | None,
                remote: Mapping[str, RemoteTicket]) -> Item | None:
        if record is None or record.number is None or record.number not in remote:
            return Item(kind, key, "create", record, details, facts)
        state = remote[record.number].state
        if state in DONE:
            return Item(kind, key, "reopen", record, details, facts)
        if kind == "vulnerability" and isinstance(facts, ScannedEndpoint) and facts.result_id != record.scan_result_id:
            return Item(kind, key, "note", record, details, facts)
        return None

    def _statuses(self, numbers: list[str]) -> dict[str, RemoteTicket]:
        out: dict[str, RemoteTicket] = {}
        read_many = getattr(self.desk, "read_many", None)
        for start in range(0, len(numbers), READ_BATCH):
            batch = numbers[start:start + READ_BATCH]
            if read_many is not None:
                found = read_many(batch)
                out.update(found if isinstance(found, Mapping) else {t.number: t for t in found})
            else:
                out.update({n: self.desk.read(n) for n in batch})
        return out

    # ---- 4. changes ------------------------------------------------------------------------------
    def _apply(self, items: list[Item]) -> None:
        for start in range(0, len(items), CHUNK):
            chunk = items[start:start + CHUNK]
            try:
                self._apply_chunk(chunk)
            except Unavailable:
                for rest in items[start + CHUNK:]:
                    self.report.add("failed", self.name, rest.kind, rest.key, rest.record.number if rest.record
                                    else None, error="not tried: the help desk is unavailable", pending=True)
                raise

    def _apply_chunk(self, chunk: list[Item]) -> None:
        claims = [Claim(i.kind, i.key, i.action, i.details) for i in chunk]
        with self.sync._step() as svc:
            taken, busy = svc.tickets.claim(self.account_id, claims, self.sync.owner, self.sync.lease)
        for claim in busy:
            self.report.add("unchanged", self.name, claim.kind, claim.key, None, busy=True)
        by_key = {(i.kind, i.key): i for i in chunk}
        answers: list[Answer] = []
        down: Exception | None = None
        for claim in taken:
            item = by_key[(claim.kind, claim.key)]
            if down is not None:
                answers.append(Answer(item.kind, item.key, item.action, error=f"not tried: {down}", retryable=True))
                continue
            answer = self._one(item)
            answers.append(answer)
            if answer.error is not None and answer.retryable:
                down = Unavailable(answer.error)
        with self.sync._step() as svc:
            svc.tickets.store(self.account_id, answers, self.sync.owner,
                              {(i.kind, i.key): i.details for i in chunk})
        for answer in answers:
            self._report(answer, by_key[(answer.kind, answer.key)])
        if down is not None:
            raise down

    def _report(self, answer: Answer, item: Item) -> None:
        number = answer.number or (item.record.number if item.record else None)
        if answer.error is not None:
            self.report.add("failed", self.name, item.kind, item.key, number, error=answer.error,
                            pending=answer.retryable)
            return
        outcome = {"create": "created", "reopen": "reopened", "note": "noted", "resolve": "resolved"}[answer.action]
        extra = {"replaces": answer.replaced} if answer.replaced else {}
        self.report.add(outcome, self.name, item.kind, item.key, number, **extra)

    def _one(self, item: Item) -> Answer:
        try:
            return self._act(item)
        except Unavailable as exc:
            return Answer(item.kind, item.key, item.action, error=str(exc), retryable=True)
        except CertvaultError as exc:
            return Answer(item.kind, item.key, item.action, error=exc.message, retryable=_retryable(exc))

    def _act(self, item: Item) -> Answer:
        if item.action == "create":
            return self._create(item)
        if item.action == "reopen":
            return self._reopen(item)
        if item.action == "note":
            facts = self._facts(item)
            assert item.record is not None and item.record.number is not None
            self.desk.add_note(item.record.number, texts.vulnerability_results(facts, self.sync.public_url))
            return self._answer(item, self.desk.read(item.record.number), scan=True)
        return self._resolve(item)

    def _create(self, item: Item) -> Answer:
        """Find-before-create: the correlation key names at most one live ticket of certvault's."""
        facts = self._facts(item)
        draft = self._draft(item, facts)
        found = self.desk.find(draft.correlation_key)
        if found is not None and found.state in DONE:
            return self._reopen(item, found.number)
        if found is not None:
            return self._answer(item, found, scan=item.kind == "vulnerability")
        return self._answer(item, self.desk.create(draft), scan=item.kind == "vulnerability")

    def _reopen(self, item: Item, number: str | None = None) -> Answer:
        number = number or (item.record.number if item.record else None)
        assert number is not None
        note = texts.reopen_note(item.kind, self.sync.public_url)
        if item.kind == "vulnerability":
            note += "\n" + texts.vulnerability_results(self._facts(item), self.sync.public_url)
        try:
            ticket = self.desk.reopen(number, note)
        except Conflict:
            return self._replace(item, number)
        return self._answer(item, ticket, scan=item.kind == "vulnerability", action="reopen")

    def _replace(self, item: Item, old: str) -> Answer:
        """The help desk cannot reopen `old`: a new ticket with the same correlation key, naming the old one.
        A replacement made by a run that crashed before storing it is found and adopted."""
        facts = self._facts(item)
        draft = self._draft(item, facts, replaces=old)
        with self.sync._step() as svc:
            previous = {*svc.tickets.previous_numbers(self.account_id, item.kind, item.key), old}
        found = self.desk.find(draft.correlation_key)
        ticket = found if found is not None and found.number not in previous and found.state in ACTIVE \
            else self.desk.create(draft)
        return self._answer(item, ticket, scan=item.kind == "vulnerability", action="reopen", replaced=old)

    def _resolve(self, item: Item) -> Answer:
        assert item.record is not None and item.record.number is not None
        if item.kind == "expiry":
            new = item.renewed
            note = texts.renewed_note(new.common_name or item.record.key, new.serial, new.not_after,
                                      self.sync.public_url)
        else:
            note = texts.clean_note(self._facts(item), self.sync.public_url)
        ticket = self.desk.resolve(item.record.number, note)
        return self._answer(item, ticket, resolved=True)

    def _answer(self, item: Item, ticket: RemoteTicket, *, scan: bool = False, action: str | None = None,
                replaced: str | None = None, resolved: bool = False) -> Answer:
        result_id = item.facts.result_id if scan and isinstance(item.facts, ScannedEndpoint) else None
        return Answer(item.kind, item.key, action or item.action, ticket.number, ticket.state, ticket.remote_status,
                      ticket.url or None, replaced, result_id, resolved)

    # ---- texts -----------------------------------------------------------------------------------
    def _facts(self, item: Item) -> Any:
        if isinstance(item.facts, ScannedEndpoint):
            with self.sync._step() as svc:
                return svc.tickets.vulnerability_facts(item.facts)
        return item.facts

    def _draft(self, item: Item, facts: Any, replaces: str | None = None) -> Any:
        if item.kind == "expiry":
            return texts.expiry_draft(facts, self.sync.public_url, replaces)
        return texts.vulnerability_draft(facts, self.sync.public_url, replaces)

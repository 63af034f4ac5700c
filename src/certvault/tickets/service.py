"""Help desks (their ticket options, mTLS identity and trust) and the local ticket records.

The rules themselves run in tickets/sync.py, which calls the transaction-sized steps below: `plan` reads what
the rules apply to, `claim` takes a lease on the records it will change at the help desk (under a database
lock, so two syncs never work on one record), `store` writes what the help desk answered.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from certvault.auth.rbac import Actor, Permission, require
from certvault.context import ServiceContext
from certvault.db.base import utcnow
from certvault.db.locks import advisory_lock
from certvault.errors import NotFound
from certvault.integrations.models import IntegrationAccount
from certvault.tickets import sources
from certvault.tickets.connection import CallCounter
from certvault.tickets.models import HelpDeskSettings, TicketRecord
from certvault.tickets.texts import correlation_key

if TYPE_CHECKING:
    from certvault.integrations.service import IntegrationService

KIND = "ticketing"
OPEN_STATES = ("open", "in_progress", "on_hold")  # protocols.TICKET_STATES that are not done
MAX_ATTEMPTS = 5  # a change that failed this many times is `failed` (and ticket.sync_failed is published)
SYSTEM = Actor.system("certvault:tickets", via="job")


@dataclass(frozen=True)
class RecordView:
    """A record as the sync plans with it (detached from its session)."""

    kind: str
    key: str
    number: str | None
    status: str | None
    remote_status: str | None
    scan_result_id: uuid.UUID | None
    serial: str
    entry_id: uuid.UUID | None
    resolved: bool
    sync_state: str

    COLUMNS = (TicketRecord.kind, TicketRecord.key, TicketRecord.number, TicketRecord.status,
               TicketRecord.remote_status, TicketRecord.scan_result_id, TicketRecord.serial, TicketRecord.entry_id,
               TicketRecord.resolved_by_certvault, TicketRecord.sync_state)

    @classmethod
    def of(cls, row: Any) -> RecordView:
        """From a row of COLUMNS (plain columns, no ORM objects: a sync reads every record of a help desk)."""
        kind, key, number, status, remote, result_id, serial, entry_id, resolved, state = row
        return cls(kind, key, number, status, remote, result_id, serial, entry_id, resolved, state)


@dataclass
class Plan:
    """Everything one sync of one help desk applies the rules to."""

    account_id: uuid.UUID
    name: str
    plugin: str
    settings: dict[str, bool]
    records: dict[tuple[str, str], RecordView]
    expiring: list[sources.ExpiringCertificate] = field(default_factory=list)
    vulnerable: list[sources.ScannedEndpoint] = field(default_factory=list)
    clean: list[sources.ScannedEndpoint] = field(default_factory=list)
    renewed: dict[str, sources.CurrentVersion] = field(default_factory=dict)  # expiry key -> the new version


@dataclass(frozen=True)
class Claim:
    kind: str
    key: str
    action: str  # create | reopen | note | resolve
    details: dict[str, Any]  # what a new record is about (ip, serial, domain, common_name, entry/endpoint ids)


@dataclass(frozen=True)
class Answer:
    """What the help desk said about one claimed record."""

    kind: str
    key: str
    action: str
    number: str | None = None
    status: str | None = None
    remote_status: str | None = None
    url: str | None = None
    replaced: str | None = None  # the old number a new ticket replaces
    scan_result_id: uuid.UUID | None = None
    resolved: bool = False
    error: str | None = None
    retryable: bool = False  # the help desk was unreachable or overloaded: stays pending


def _defaults(account_id: uuid.UUID) -> HelpDeskSettings:
    return HelpDeskSettings(account_id=account_id, expiry_tickets=True, vulnerability_tickets=True,
                            resolve_on_renewal=True)


class TicketService:
    def __init__(self, ctx: ServiceContext, integrations: IntegrationService) -> None:
        self._ctx = ctx
        self._s = ctx.session
        self._integrations = integrations

    # ---- help desks ------------------------------------------------------------------------------
    def account(self, ref: uuid.UUID | str) -> IntegrationAccount:
        return self._integrations.find(KIND, ref)

    def settings_of(self, account_id: uuid.UUID) -> HelpDeskSettings:
        return self._s.get(HelpDeskSettings, account_id) or _defaults(account_id)

    def helpdesks(self, actor: Actor) -> list[tuple[IntegrationAccount, HelpDeskSettings]]:
        return [(a, self.settings_of(a.id)) for a in self._integrations.list_accounts(actor, KIND)]

    def configure(self, actor: Actor, ref: uuid.UUID | str, *, expiry_tickets: bool | None = None,
                  vulnerability_tickets: bool | None = None, resolve_on_renewal: bool | None = None,
                  keystore: bytes | None = None, keystore_password: str | None = None,
                  client_cert: str | None = None, trusted_cert: bytes | str | None = None,
                  clear_identity: bool = False, clear_trust: bool = False) -> HelpDeskSettings:
        """Ticket options of one help desk, and its mutual TLS and trust (IntegrationService.secure: a keystore
        is opened now, and a wrong password, no private key, a chain not matching the key or an expired
        certificate is refused with nothing changed)."""
        require(actor, Permission.SETTINGS_MANAGE)
        account = self.account(ref)
        if any(v is not None for v in (keystore, client_cert, trusted_cert)) or clear_identity or clear_trust:
            self._integrations.secure(actor, KIND, account.id, keystore=keystore, keystore_password=keystore_password,
                                      client_cert=client_cert, trusted_cert=trusted_cert,
                                      clear_identity=clear_identity, clear_trust=clear_trust)
        row = self._s.get(HelpDeskSettings, account.id)
        if row is None:
            row = _defaults(account.id)
            self._s.add(row)
        for name, value in (("expiry_tickets", expiry_tickets), ("vulnerability_tickets", vulnerability_tickets),
                            ("resolve_on_renewal", resolve_on_renewal)):
            if value is not None:
                setattr(row, name, value)
        self._s.flush()
        self._ctx.audit.record(actor, "helpdesk.configure", target_type="integration", target_id=account.id,
                               details={"name": account.name, **describe_settings(row)})
        return row

    def helpdesk(self, account: IntegrationAccount, purpose: str = "sync", counter: CallCounter | None = None,
                 *, audited: bool = True) -> Any:
        """The HelpDesk plugin, bound to this help desk's client certificate and trust (its account's)."""
        http = self._integrations.http_for(account, on_request=counter)
        return self._integrations.help_desk(account, purpose, http, audited=audited)

    def check(self, actor: Actor, ref: uuid.UUID | str) -> str:
        """Test connection: one authenticated call through the configured mTLS and trust settings."""
        require(actor, Permission.SETTINGS_MANAGE)
        account = self.account(ref)
        result = str(self.helpdesk(account, "test").check())
        self._ctx.audit.record(actor, "integration.test", target_type="integration", target_id=account.id,
                               details={"kind": KIND, "name": account.name, "result": result})
        return result

    def authorize_sync(self, actor: Actor) -> None:
        require(actor, Permission.SETTINGS_MANAGE)

    def request_sync(self, actor: Actor) -> None:
        """Queue a sync now (the help desks are called by the job, outside this transaction)."""
        require(actor, Permission.SETTINGS_MANAGE)
        self._ctx.enqueue("tickets.sync", {}, dedup_key="tickets.sync")
        self._ctx.audit.record(actor, "tickets.sync_requested", target_type="tickets", target_id=None, details={})

    # ---- records ---------------------------------------------------------------------------------
    def records(self, actor: Actor, helpdesk: str | None = None, limit: int = 1000,
                offset: int = 0, open_only: bool = False) -> list[tuple[TicketRecord, IntegrationAccount]]:
        """Ticket records with their help desk; `open_only`: those whose ticket is open at the help desk."""
        require(actor, Permission.REPORTS_READ)
        stmt = (select(TicketRecord, IntegrationAccount).join(IntegrationAccount,
                                                              IntegrationAccount.id == TicketRecord.account_id)
                .order_by(IntegrationAccount.name, TicketRecord.kind, TicketRecord.key)
                .limit(max(1, min(limit, 10_000))).offset(max(0, offset)))
        if helpdesk:
            stmt = stmt.where(TicketRecord.account_id == self.account(helpdesk).id)
        if open_only:
            stmt = stmt.where(TicketRecord.status.in_(OPEN_STATES))
        return [(r, a) for r, a in self._s.execute(stmt).all()]

    def open_count(self, actor: Actor) -> int:
        """How many tickets are open (or in progress, or on hold) at the help desks, as last read."""
        require(actor, Permission.REPORTS_READ)
        stmt = select(func.count()).select_from(TicketRecord).where(TicketRecord.status.in_(OPEN_STATES))
        return int(self._s.scalar(stmt) or 0)

    def enabled_helpdesks(self) -> list[uuid.UUID]:
        stmt = select(IntegrationAccount.id).where(IntegrationAccount.kind == KIND,
                                                   IntegrationAccount.enabled.is_(True)).order_by(IntegrationAccount.name)
        return list(self._s.scalars(stmt))

    # ---- the sync's steps (tickets/sync.py) -------------------------------------------------------
    def plan(self, account_id: uuid.UUID, within_days: int) -> Plan:
        account = self._s.get(IntegrationAccount, account_id)
        if account is None:
            raise NotFound(f"no help desk {account_id}")
        settings = self.settings_of(account_id)
        rows = self._s.execute(select(*RecordView.COLUMNS).where(TicketRecord.account_id == account_id))
        plan = Plan(account_id, account.name, account.plugin,
                    {"expiry_tickets": settings.expiry_tickets, "vulnerability_tickets": settings.vulnerability_tickets,
                     "resolve_on_renewal": settings.resolve_on_renewal},
                    {(r[0], r[1]): RecordView.of(r) for r in rows})
        now = utcnow()
        if settings.expiry_tickets:
            plan.expiring = sources.expiring(self._s, now, within_days)
        if settings.resolve_on_renewal:
            open_expiry = {r.entry_id: r for r in plan.records.values()
                           if r.kind == "expiry" and r.number and not r.resolved and r.entry_id}
            current = sources.current_versions(self._s, open_expiry)
            plan.renewed = {r.key: current[e] for e, r in open_expiry.items()
                            if e in current and current[e].serial != r.serial.upper()}
        if settings.vulnerability_tickets:
            for endpoint in sources.endpoints(self._s):
                (plan.vulnerable if endpoint.vulnerable else plan.clean).append(endpoint)
        return plan

    def previous_numbers(self, account_id: uuid.UUID, kind: str, key: str) -> list[str]:
        stmt = select(TicketRecord.previous_numbers).where(TicketRecord.account_id == account_id,
                                                           TicketRecord.kind == kind, TicketRecord.key == key)
        return list(self._s.scalar(stmt) or [])

    def vulnerability_facts(self, endpoint: sources.ScannedEndpoint) -> Any:
        return sources.vulnerability_facts(self._s, endpoint)

    def claim(self, account_id: uuid.UUID, claims: Sequence[Claim], owner: str,
              lease: timedelta) -> tuple[list[Claim], list[Claim]]:
        """Lease the records these changes touch (new records are inserted as pending creates). Returns the
        claims taken and those another sync holds. Under a lock per help desk: one claim at a time."""
        advisory_lock(self._s, f"tickets:{account_id}")
        now = utcnow()
        existing = self._by_key(account_id, [(c.kind, c.key) for c in claims])
        taken, busy = [], []
        for claim in claims:
            row = existing.get((claim.kind, claim.key))
            if row is not None and row.lease_until is not None and row.lease_until > now and row.lease_owner != owner:
                busy.append(claim)
                continue
            if row is None:
                row = TicketRecord(id=uuid.uuid4(), account_id=account_id, kind=claim.kind, key=claim.key,
                                   correlation_key=correlation_key(claim.kind, claim.key), previous_numbers=[],
                                   sync_state="pending", attempts=0, resolved_by_certvault=False,
                                   **_record_fields(claim.details))
                self._s.add(row)
            elif claim.action == "create" and row.number and row.lease_owner not in (None, owner):
                busy.append(claim)  # another sync created it after this one planned
                continue
            row.pending_action, row.lease_owner, row.lease_until = claim.action, owner, now + lease
            taken.append(claim)
        self._s.flush()
        return taken, busy

    def store(self, account_id: uuid.UUID, answers: Iterable[Answer], owner: str,
              details: dict[tuple[str, str], dict[str, Any]]) -> None:
        answers = list(answers)
        rows = self._by_key(account_id, [(a.kind, a.key) for a in answers])
        now = utcnow()
        for answer in answers:
            row = rows.get((answer.kind, answer.key))
            if row is None or (row.lease_owner not in (None, owner)):
                continue  # deleted meanwhile, or another sync took the lease over after ours ran out
            row.lease_owner = row.lease_until = None
            if answer.error is None:
                self._stored(row, answer, details.get((answer.kind, answer.key), {}), now)
            else:
                self._failed(row, answer)

    def _stored(self, row: TicketRecord, answer: Answer, details: dict[str, Any], now: datetime) -> None:
        if answer.replaced and answer.replaced not in (row.previous_numbers or []):
            row.previous_numbers = [*(row.previous_numbers or []), answer.replaced]
        row.number = answer.number or row.number
        row.status, row.remote_status = answer.status or row.status, answer.remote_status or row.remote_status
        row.url = answer.url or row.url
        if answer.scan_result_id is not None:
            row.scan_result_id = answer.scan_result_id
        for name, value in _record_fields(details).items():
            setattr(row, name, value)
        row.resolved_by_certvault = answer.resolved
        row.sync_state, row.pending_action, row.error, row.attempts = "ok", None, None, 0
        row.last_synced_at = now

    def _failed(self, row: TicketRecord, answer: Answer) -> None:
        row.attempts = (row.attempts or 0) + 1
        row.error = (answer.error or "")[:2000]
        was = row.sync_state
        row.sync_state = "failed" if (row.attempts >= MAX_ATTEMPTS or not answer.retryable) else "pending"
        if row.sync_state == "failed" and was != "failed":
            account = self._s.get(IntegrationAccount, row.account_id)
            name = account.name if account else str(row.account_id)
            self._ctx.events.publish(
                "ticket.sync_failed", title=f"Ticket sync failed: {name} {row.kind} {row.key}",
                body=f"{row.pending_action or 'change'} of the {row.kind} ticket for {row.key} in help desk {name} "
                     f"failed {row.attempts} time(s): {row.error}", severity="warning", subject=name,
                payload={"helpdesk": name, "kind": row.kind, "key": row.key, "number": row.number,
                         "action": row.pending_action, "error": row.error, "attempts": row.attempts})

    def touch(self, account_id: uuid.UUID, seen: dict[tuple[str, str], tuple[str, str, bool]]) -> None:
        """Records whose ticket needed nothing: the status as read, last synced now, errors cleared.
        One UPDATE per group of records, so a sync with nothing to change stays cheap."""
        now = utcnow()
        groups: dict[tuple[str, str, bool, str], list[str]] = {}
        for (kind, key), (status, remote, resolved) in seen.items():
            groups.setdefault((status, remote, resolved, kind), []).append(key)
        for (status, remote, resolved, kind), keys in groups.items():
            for start in range(0, len(keys), 500):
                self._s.execute(update(TicketRecord).where(
                    TicketRecord.account_id == account_id, TicketRecord.kind == kind,
                    TicketRecord.key.in_(keys[start:start + 500]), TicketRecord.lease_owner.is_(None)).values(
                    status=status, remote_status=remote, resolved_by_certvault=resolved, last_synced_at=now,
                    sync_state="ok", error=None, attempts=0, pending_action=None
                ).execution_options(synchronize_session=False))

    def _by_key(self, account_id: uuid.UUID, keys: list[tuple[str, str]]) -> dict[tuple[str, str], TicketRecord]:
        out: dict[tuple[str, str], TicketRecord] = {}
        for kind in {k for k, _ in keys}:
            names = [key for k, key in keys if k == kind]
            for start in range(0, len(names), 500):
                stmt = select(TicketRecord).where(TicketRecord.account_id == account_id, TicketRecord.kind == kind,
                                                  TicketRecord.key.in_(names[start:start + 500]))
                out.update({(r.kind, r.key): r for r in self._s.scalars(stmt)})
        return out


def _record_fields(details: dict[str, Any]) -> dict[str, Any]:
    names = ("common_name", "domain", "ip", "serial", "entry_id", "endpoint_id")
    return {n: details[n] for n in names if details.get(n) is not None}


def describe_settings(row: HelpDeskSettings) -> dict[str, Any]:
    """The ticket options as shown and audited (mutual TLS and trust: integrations.security.describe_security)."""
    return {"expiry_tickets": row.expiry_tickets, "vulnerability_tickets": row.vulnerability_tickets,
            "resolve_on_renewal": row.resolve_on_renewal}

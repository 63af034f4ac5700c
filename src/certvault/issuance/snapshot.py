"""What one engine step needs, read in one short transaction; and how its outcome is committed.

Steps do network I/O on a snapshot (no session held); the outcome is then written with one
UPDATE guarded by `seq`, so two workers racing on one order cannot both advance it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from certvault.context import ServiceContext
from certvault.issuance.clients import AccountRef
from certvault.issuance.dns_accounts import open_dns_secrets
from certvault.issuance.models import IN_FLIGHT, AcmeAccount, AcmeAuthorization, AcmeOrder, DnsAccount
from certvault.issuance.runtime import AcmeRuntime, load_runtime


@dataclass(frozen=True)
class AuthzView:
    id: uuid.UUID
    identifier: str
    identifier_type: str
    wildcard: bool
    url: str
    status: str
    challenge_url: str | None
    token: str | None
    key_authorization: str | None
    record_name: str | None
    record_value: str | None
    published_at: datetime | None
    answered_at: datetime | None


@dataclass(frozen=True)
class DnsRef:
    id: uuid.UUID
    name: str
    provider: str
    options: dict[str, Any]
    secrets: dict[str, str]


@dataclass
class OrderView:
    id: uuid.UUID
    seq: int
    state: str
    names: list[str]
    challenge_type: str
    fulfilment: str
    webroot: str | None
    key_algorithm: str
    signature_algorithm: str
    key_policy: str
    profile: str | None
    replaces: str | None
    key_pem: bytes | None
    csr_der: bytes | None
    order_url: str | None
    finalize_url: str | None
    certificate_url: str | None
    new_order_sent_at: datetime | None
    ca_status: str | None
    polls: int
    waiting_since: datetime | None
    verify_requested_at: datetime | None
    account: AccountRef | None
    dns: DnsRef | None
    runtime: AcmeRuntime
    authorizations: list[AuthzView]
    in_flight_account: int = 0
    in_flight_ca: int = 0
    max_in_flight_account: int = 100


@dataclass
class Outcome:
    """The result of one step: new state (or same), column changes, authorization changes, wait."""

    state: str
    changes: dict[str, Any] = field(default_factory=dict)
    authz: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    new_authz: list[dict[str, Any]] = field(default_factory=list)
    wait: float | None = None  # seconds until the next step; None = go on now (or stop if terminal)
    park: bool = False  # wait for a person (manual challenges): no job is scheduled
    chain_pem: str | None = None  # downloading -> stored carries the certificate


def load_order(ctx: ServiceContext, order_id: uuid.UUID) -> OrderView | None:
    order = ctx.session.get(AcmeOrder, order_id)
    if order is None:
        return None
    account = ctx.session.get(AcmeAccount, order.account_id) if order.account_id else None
    dns = ctx.session.get(DnsAccount, order.dns_account_id) if order.dns_account_id else None
    authzs = list(ctx.session.scalars(select(AcmeAuthorization).where(AcmeAuthorization.order_id == order.id)
                                      .order_by(AcmeAuthorization.position)))
    view = OrderView(
        id=order.id, seq=order.seq, state=order.state, names=list(order.names), challenge_type=order.challenge_type,
        fulfilment=order.fulfilment, webroot=order.webroot, key_algorithm=order.key_algorithm,
        signature_algorithm=order.signature_algorithm, key_policy=order.key_policy, profile=order.profile,
        replaces=order.replaces,
        key_pem=ctx.sealer.open(order.key_sealed, aad=f"acme_orders:{order.id}") if order.key_sealed else None,
        csr_der=order.csr_der, order_url=order.order_url, finalize_url=order.finalize_url,
        certificate_url=order.certificate_url, new_order_sent_at=order.new_order_sent_at, ca_status=order.ca_status,
        polls=order.polls, waiting_since=order.waiting_since, verify_requested_at=order.verify_requested_at,
        account=AccountRef.of(ctx, account) if account is not None else None,
        dns=DnsRef(dns.id, dns.name, dns.provider, dict(dns.options), open_dns_secrets(ctx, dns)) if dns else None,
        runtime=load_runtime(ctx.session), authorizations=[_authz_view(a) for a in authzs])
    if account is not None and order.state == "created":
        view.max_in_flight_account = account.max_in_flight
        view.in_flight_account = ctx.session.scalar(select(func.count()).select_from(AcmeOrder).where(
            AcmeOrder.account_id == account.id, AcmeOrder.state.in_(IN_FLIGHT))) or 0
        view.in_flight_ca = ctx.session.scalar(
            select(func.count()).select_from(AcmeOrder).join(AcmeAccount, AcmeAccount.id == AcmeOrder.account_id)
            .where(AcmeAccount.directory_url == account.directory_url, AcmeOrder.state.in_(IN_FLIGHT))) or 0
    return view


def _authz_view(a: AcmeAuthorization) -> AuthzView:
    return AuthzView(a.id, a.identifier, a.identifier_type, a.wildcard, a.url, a.status, a.challenge_url, a.token,
                     a.key_authorization, a.record_name, a.record_value, a.published_at, a.answered_at)


_ORDERS = AcmeOrder.__table__
_AUTHZ = AcmeAuthorization.__table__


def commit_outcome(ctx: ServiceContext, view: OrderView, outcome: Outcome) -> bool:
    """Apply the outcome if nobody advanced the order meanwhile. Returns False when we lost the race.

    Core statements on the tables: the engine writes the same few columns many times a second, and
    the ORM's unit of work would cost more than the statements themselves."""
    values = {**outcome.changes, "state": outcome.state, "seq": view.seq + 1, "updated_at": ctx.now()}
    if "key_pem" in values:
        key_pem = values.pop("key_pem")
        values["key_sealed"] = ctx.sealer.seal(key_pem, aad=f"acme_orders:{view.id}")
    result = ctx.session.execute(_ORDERS.update().where(_ORDERS.c.id == view.id, _ORDERS.c.seq == view.seq)
                                 .values(**values))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    if outcome.new_authz:
        ctx.session.execute(_AUTHZ.delete().where(_AUTHZ.c.order_id == view.id))
        ctx.session.execute(_AUTHZ.insert(), [{"order_id": view.id, "error": None, **row} for row in outcome.new_authz])
    for authz_id, changes in outcome.authz.items():
        ctx.session.execute(_AUTHZ.update().where(_AUTHZ.c.id == authz_id).values(**changes))
    return True


def merge_outcomes(earlier: Outcome | None, later: Outcome) -> Outcome:
    """Two transitions committed as one: the later state, every column and authorization change."""
    if earlier is None:
        return later
    authz = {authz_id: dict(changes) for authz_id, changes in earlier.authz.items()}
    for authz_id, changes in later.authz.items():
        authz.setdefault(authz_id, {}).update(changes)
    new_authz = [dict(row) for row in (later.new_authz or earlier.new_authz)]
    for row in new_authz:  # rows not inserted yet take their changes directly
        row.update(authz.pop(row["id"], {}))
    return Outcome(later.state, {**earlier.changes, **later.changes}, authz, new_authz, later.wait, later.park,
                   later.chain_pem or earlier.chain_pem)


def advance_uncommitted(view: OrderView, outcome: Outcome) -> OrderView:
    """The snapshot after a transition that is not committed yet: `seq` stays the committed one."""
    return replace(advance_view(view, outcome), seq=view.seq)


def advance_view(view: OrderView, outcome: Outcome) -> OrderView:
    """The snapshot as it is after a committed outcome (saves re-reading it)."""
    changes = {k: v for k, v in outcome.changes.items() if hasattr(view, k)}
    if "key_pem" in outcome.changes:
        changes["key_pem"] = outcome.changes["key_pem"]
    new = replace(view, seq=view.seq + 1, state=outcome.state, **changes)
    if outcome.new_authz:
        new.authorizations = [AuthzView(id=row["id"], **{k: row.get(k) for k in (
            "identifier", "identifier_type", "wildcard", "url", "status", "challenge_url", "token",
            "key_authorization", "record_name", "record_value", "published_at", "answered_at")})
            for row in outcome.new_authz]
    if outcome.authz:
        new.authorizations = [replace(a, **{k: v for k, v in outcome.authz.get(a.id, {}).items()
                                            if hasattr(a, k)}) for a in new.authorizations]
    return new

"""What one engine step needs, read in one short transaction; and how its outcome is committed.

Steps do network I/O on a snapshot (no session held); the outcome is then written with one
UPDATE guarded by `seq`, so two workers racing on one order cannot both advance it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select

from certvault.context import ServiceContext
from certvault.db.base import table_of
from certvault.errors import CertvaultError
from certvault.integrations.models import IntegrationAccount
from certvault.issuance.clients import AccountRef
from certvault.issuance.models import IN_FLIGHT, AcmeAccount, AcmeAuthorization, AcmeOrder
from certvault.issuance.runtime import AcmeRuntime, load_runtime
from certvault.vault.models import Secret

log = logging.getLogger("certvault.issuance")


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
    dns_account_id: uuid.UUID | None = None  # the DNS account that published it (dns fulfilment)
    record_target: str | None = None  # where it was written: record_name or its CNAME target


@dataclass(frozen=True)
class DnsRef:
    id: uuid.UUID
    name: str
    provider: str
    options: dict[str, Any]
    secret_refs: dict[str, Any]  # opened only when the provider is built (issuance/dns_providers.py)
    secret_versions: tuple[int, ...] = ()
    connection: dict[str, Any] = field(default_factory=dict)  # the outbound client's settings (trust, proxy)


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
    dns: DnsRef | None  # the DNS account assigned to the order (None: chosen per name)
    runtime: AcmeRuntime
    authorizations: list[AuthzView]
    dns_accounts: dict[uuid.UUID, DnsRef] = field(default_factory=dict)  # per-name choices and candidates
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


def _by_id(model: Any) -> Any:
    table = model.__table__
    return select(table).where(table.c.id == bindparam("id"))


# Built once (see _update): loading an order is the engine's most frequent read.
_ORDER, _ACCOUNT, _DNS = _by_id(AcmeOrder), _by_id(AcmeAccount), _by_id(IntegrationAccount)
_ENABLED_DNS = select(IntegrationAccount.__table__).where(IntegrationAccount.__table__.c.kind == "dns",
                                                          IntegrationAccount.__table__.c.enabled.is_(True))
_VERSIONS = select(table_of(Secret).c.version).where(
    table_of(Secret).c.id.in_(bindparam("ids", expanding=True))).order_by(table_of(Secret).c.id)
_AUTHZS = select(AcmeAuthorization.__table__).where(
    AcmeAuthorization.__table__.c.order_id == bindparam("id")).order_by(AcmeAuthorization.__table__.c.position)
_IN_FLIGHT_ACCOUNT = select(func.count()).select_from(AcmeOrder.__table__).where(
    AcmeOrder.__table__.c.account_id == bindparam("account_id"), AcmeOrder.__table__.c.state.in_(IN_FLIGHT))
_IN_FLIGHT_CA = (select(func.count()).select_from(AcmeOrder.__table__)
                 .join(AcmeAccount.__table__, AcmeAccount.__table__.c.id == AcmeOrder.__table__.c.account_id)
                 .where(AcmeAccount.__table__.c.directory_url == bindparam("directory_url"),
                        AcmeOrder.__table__.c.state.in_(IN_FLIGHT)))


def _dns_ref(ctx: ServiceContext, row: Any) -> DnsRef:
    from certvault.issuance import dns_providers

    ids = sorted({uuid.UUID(r["secret"]) for r in row.secret_refs.values()})
    versions = tuple(ctx.session.execute(_VERSIONS, {"ids": ids}).scalars()) if ids else ()
    ref = DnsRef(row.id, row.name, row.plugin, dict(row.options), dict(row.secret_refs), versions,
                 dict(row.connection or {}))
    dns_providers.warm(ctx, ref)  # the network steps after this snapshot use no transaction
    return ref


def load_order(ctx: ServiceContext, order_id: uuid.UUID) -> OrderView | None:
    run = ctx.session.execute
    order = run(_ORDER, {"id": order_id}).first()
    if order is None:
        return None
    # Rows stand in for the ORM objects (same attribute names), at a fraction of the loading cost.
    account: Any = run(_ACCOUNT, {"id": order.account_id}).first() if order.account_id else None
    dns: Any = run(_DNS, {"id": order.dns_account_id}).first() if order.dns_account_id else None
    authzs = run(_AUTHZS, {"id": order.id}).all()
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
        dns=_dns_ref(ctx, dns) if dns else None,
        runtime=load_runtime(ctx.session), authorizations=[_authz_view(a) for a in authzs],
        dns_accounts=_dns_accounts(ctx, order, authzs))
    if account is not None and order.state == "created":
        view.max_in_flight_account = account.max_in_flight
        view.in_flight_account = ctx.session.scalar(_IN_FLIGHT_ACCOUNT, {"account_id": account.id}) or 0
        view.in_flight_ca = ctx.session.scalar(_IN_FLIGHT_CA, {"directory_url": account.directory_url}) or 0
    return view


def _dns_accounts(ctx: ServiceContext, order: Any, authzs: Sequence[Any]) -> dict[uuid.UUID, DnsRef]:
    """The DNS accounts this step may use: those that published a name of the order (their cleanup runs even
    when they were disabled since) and, for an order without an assigned account that still has names to
    publish, every enabled account (the candidates of the per-name choice)."""
    if order.fulfilment != "dns":
        return {}
    refs: dict[uuid.UUID, DnsRef] = {}
    for account_id in {a.dns_account_id for a in authzs if a.dns_account_id}:
        row = ctx.session.execute(_DNS, {"id": account_id}).first()
        if row is not None:
            refs[account_id] = _dns_ref(ctx, row)
    if order.dns_account_id is None and order.state in ("created", "authorizations_pending"):
        for row in ctx.session.execute(_ENABLED_DNS):
            if row.id in refs:
                continue
            try:
                refs[row.id] = _dns_ref(ctx, row)
            except CertvaultError as exc:  # a broken candidate is left out of the choice, not fatal
                log.warning("DNS account %s cannot be built and is not a candidate: %s", row.name, exc.message)
    return refs


def _authz_view(a: Any) -> AuthzView:
    return AuthzView(a.id, a.identifier, a.identifier_type, a.wildcard, a.url, a.status, a.challenge_url, a.token,
                     a.key_authorization, a.record_name, a.record_value, a.published_at, a.answered_at,
                     a.dns_account_id, a.record_target)


_ORDERS = table_of(AcmeOrder)
_AUTHZ = table_of(AcmeAuthorization)
_DELETE_AUTHZ = _AUTHZ.delete().where(_AUTHZ.c.order_id == bindparam("order_id"))
_INSERT_AUTHZ = _AUTHZ.insert()
_UPDATES: dict[tuple[str, frozenset[str]], Any] = {}


def _update(table: Any, columns: frozenset[str], guard_seq: bool) -> Any:
    """An UPDATE of these columns by id (and seq), built once per set of columns: the engine writes the
    same few shapes many times a second, and a reused statement skips building and compiling."""
    key = (table.name, columns)
    stmt = _UPDATES.get(key)
    if stmt is None:
        where = [table.c.id == bindparam("_id")] + ([table.c.seq == bindparam("_seq")] if guard_seq else [])
        stmt = table.update().where(*where).values({name: bindparam(name) for name in columns})
        _UPDATES[key] = stmt
    return stmt


def commit_outcome(ctx: ServiceContext, view: OrderView, outcome: Outcome) -> bool:
    """Apply the outcome if nobody advanced the order meanwhile. Returns False when we lost the race."""
    values = {**outcome.changes, "state": outcome.state, "seq": view.seq + 1, "updated_at": ctx.now()}
    if "key_pem" in values:
        key_pem = values.pop("key_pem")
        values["key_sealed"] = ctx.sealer.seal(key_pem, aad=f"acme_orders:{view.id}")
    result = ctx.session.execute(_update(_ORDERS, frozenset(values), True), {**values, "_id": view.id,
                                                                             "_seq": view.seq})
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    if outcome.new_authz:
        ctx.session.execute(_DELETE_AUTHZ, {"order_id": view.id})
        ctx.session.execute(_INSERT_AUTHZ, [{"order_id": view.id, "error": None, **row} for row in outcome.new_authz])
    for authz_id, changes in outcome.authz.items():
        ctx.session.execute(_update(_AUTHZ, frozenset(changes), False), {**changes, "_id": authz_id})
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
        new.authorizations = [AuthzView(id=row["id"], **{k: row.get(k) for k in (  # type: ignore[arg-type]
            "identifier", "identifier_type", "wildcard", "url", "status", "challenge_url", "token",
            "key_authorization", "record_name", "record_value", "published_at", "answered_at", "dns_account_id",
            "record_target")})
            for row in outcome.new_authz]
    if outcome.authz:
        new.authorizations = [replace(a, **{k: v for k, v in outcome.authz.get(a.id, {}).items()
                                            if hasattr(a, k)}) for a in new.authorizations]
    return new

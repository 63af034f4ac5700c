"""One function per order state: talk to the CA (and DNS/HTTP), return an Outcome. No session here."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from cryptography import x509

from certvault.acme_client import AcmeClient, AcmeProblem, Identifier, Order, build_csr, dns01_value, next_poll_delay
from certvault.context import ServiceContext
from certvault.crypto import keys
from certvault.issuance import fulfil
from certvault.issuance.models import (
    AUTHORIZATIONS_PENDING,
    CHALLENGES_ANSWERED,
    CREATED,
    DOWNLOADING,
    FAILED,
    FINALIZING,
    STORED,
    VALIDATING,
)
from certvault.issuance.snapshot import AuthzView, OrderView, Outcome


def failed(message: str, kind: str = "error", problem: dict | None = None, now: datetime | None = None) -> Outcome:
    return Outcome(FAILED, {"error_type": kind, "error_message": message, "error_problem": problem,
                            "finished_at": now})


def identifiers(names: list[str]) -> list[Identifier]:
    import ipaddress

    out = []
    for name in names:
        try:
            out.append(Identifier("ip", str(ipaddress.ip_address(name))))
        except ValueError:
            out.append(Identifier("dns", name))
    return out


# ---- created: key, CSR, newOrder, authorizations ---------------------------------------------------
def throttled(view: OrderView) -> Outcome | None:
    """Too many orders of this account or at this CA are in progress: try again in a second."""
    if view.in_flight_account >= view.max_in_flight_account or view.in_flight_ca >= view.runtime.max_in_flight_per_ca:
        return Outcome(CREATED, {"last_check": f"queued: {view.in_flight_account} orders of this account and "
                                               f"{view.in_flight_ca} at this CA are in progress"}, wait=1.0)
    return None


def key_and_mark(view: OrderView, now: datetime) -> Outcome | None:
    """The key, the CSR and the "newOrder sent" mark, or None when they are already committed."""
    if view.key_pem is not None and view.csr_der is not None and view.new_order_sent_at is not None:
        return None
    key_pem = view.key_pem or keys.to_pem(keys.generate(view.key_algorithm))
    csr = build_csr(keys.from_pem(key_pem), view.names, view.signature_algorithm)
    # Committed before the CA hears of the order: a crash after newOrder finds the key and the mark.
    return Outcome(CREATED, {"key_pem": key_pem, "csr_der": csr, "new_order_sent_at": now})


def created(ctx: ServiceContext, client: AcmeClient, view: OrderView, now: datetime, resumed: bool,
            known_urls: Callable[[list[str]], set[str]]) -> Outcome:
    first = throttled(view) or key_and_mark(view, now)
    if first is not None:
        return first
    order = _recover(client, view, known_urls) if resumed else None
    if order is None:
        order = client.new_order(identifiers(view.names), view.profile, view.replaces)
    rows = []
    for position, url in enumerate(order.authorizations):
        authz = client.get_authorization(url)
        chall = authz.challenge(view.challenge_type)
        if chall is None and authz.status != "valid":
            return failed(f"the CA offers no {view.challenge_type} challenge for {authz.identifier.value}",
                          "challenge_unavailable", now=now)
        key_authz = client.key_authorization(chall.token) if chall and chall.token else None
        name = authz.identifier.value
        rows.append({"id": uuid.uuid4(), "position": position, "identifier": name,
                     "identifier_type": authz.identifier.type, "wildcard": authz.wildcard, "url": url,
                     "status": authz.status, "challenge_url": chall.url if chall else None,
                     "token": chall.token if chall else None, "key_authorization": key_authz,
                     "record_name": f"_acme-challenge.{name}" if view.challenge_type == "dns-01" else None,
                     "record_value": dns01_value(key_authz) if key_authz and view.challenge_type == "dns-01" else None,
                     "published_at": None, "answered_at": None})
    return Outcome(AUTHORIZATIONS_PENDING, {"order_url": order.url, "finalize_url": order.finalize,
                                            "ca_status": order.status, "polls": 0, "waiting_since": None,
                                            "last_check": None}, new_authz=rows)


def _recover(client: AcmeClient, view: OrderView, known_urls: Callable[[list[str]], set[str]]) -> Order | None:
    """After a crash right after newOrder: adopt that order instead of placing a second one."""
    wanted = {(i.type, i.value) for i in identifiers(view.names)}
    urls = client.list_orders()
    known = known_urls(urls)
    for url in reversed(urls):
        if url in known:
            continue
        order = client.get_order(url)
        if order.status in ("pending", "ready") and {(i.type, i.value) for i in order.identifiers} == wanted:
            return order
    return None


# ---- authorizations pending: publish responses and check they are visible -------------------------
def authorizations_pending(ctx: ServiceContext, client: AcmeClient, view: OrderView, now: datetime) -> Outcome:
    invalid = [a for a in view.authorizations if a.status not in ("pending", "valid", "processing")]
    if invalid:
        return failed(f"authorization for {invalid[0].identifier} is {invalid[0].status} at the CA",
                      "authorization_invalid", now=now)
    todo = fulfil.pending(view)
    if not todo:
        return Outcome(CHALLENGES_ANSWERED, {"waiting_since": None})
    if view.fulfilment == "manual":
        return _manual(ctx, view, now)
    changes: dict[uuid.UUID, dict[str, object]] = {}
    if view.fulfilment == "dns":
        planned = fulfil.plan_dns(ctx, view, [a for a in todo if a.published_at is None])
        if isinstance(planned, str):
            if any(a.published_at for a in view.authorizations):
                return failed(planned, "no_dns_account", now=now)
            # nothing was written: the order waits for a person (records by hand, or assign-dns)
            return Outcome(AUTHORIZATIONS_PENDING, {"fulfilment": "manual", "last_check": planned}, park=True)
        todo = [planned.get(a.id, a) for a in todo]
    _publish(ctx, view, todo, now, changes)
    problems = [msg for ok, msg in (fulfil.visible(ctx, view, a) for a in todo) if not ok]
    if not problems:
        return Outcome(CHALLENGES_ANSWERED, {"waiting_since": None, "last_check": None}, authz=changes)
    timeout, interval = _propagation(ctx, view)
    since = view.waiting_since or now
    if (now - since).total_seconds() > timeout:
        return failed(f"the challenge response was still not visible after {timeout:g} s: {problems[0]}",
                      "not_visible", now=now)
    return Outcome(AUTHORIZATIONS_PENDING, {"waiting_since": since, "last_check": problems[0]}, authz=changes,
                   wait=interval)


def _publish(ctx: ServiceContext, view: OrderView, todo: list[AuthzView], now: datetime,
             changes: dict[uuid.UUID, dict[str, object]]) -> None:
    """Publish what is not yet; when one fails, take down what this step wrote before raising (nothing of
    it is recorded yet, so the engine's cleanup would not know of it)."""
    written: list[AuthzView] = []
    for authz in todo:
        if authz.published_at is not None:
            continue
        try:
            fulfil.publish(ctx, view, authz)
        except Exception:
            fulfil.remove(ctx, view, only=[*written, replace(authz, published_at=now)])
            raise
        written.append(replace(authz, published_at=now))
        changes[authz.id] = {"published_at": now, "dns_account_id": authz.dns_account_id,
                             "record_target": authz.record_target}


def _propagation(ctx: ServiceContext, view: OrderView) -> tuple[float, float]:
    if view.fulfilment == "dns":
        prop = fulfil.dns_propagation(ctx, view)
        return prop.timeout, prop.interval
    return 60.0, 1.0


def _manual(ctx: ServiceContext, view: OrderView, now: datetime) -> Outcome:
    if view.verify_requested_at is None:
        return Outcome(AUTHORIZATIONS_PENDING, park=True)
    problems = [msg for ok, msg in (fulfil.visible(ctx, view, a) for a in fulfil.pending(view)) if not ok]
    if not problems:
        return Outcome(CHALLENGES_ANSWERED, {"last_check": None})
    if (now - view.verify_requested_at).total_seconds() < view.runtime.verify_grace:
        return Outcome(AUTHORIZATIONS_PENDING, {"last_check": problems[0]}, wait=min(5.0, view.runtime.verify_grace))
    return Outcome(AUTHORIZATIONS_PENDING, {"verify_requested_at": None,
                                            "last_check": f"not visible yet, so the CA was not asked: {problems[0]}"},
                   park=True)


# ---- challenges answered: tell the CA to validate ------------------------------------------------
def challenges_answered(ctx: ServiceContext, client: AcmeClient, view: OrderView, now: datetime) -> Outcome:
    fulfil.serve_again(view)
    changes: dict[uuid.UUID, dict[str, object]] = {}
    for authz in fulfil.pending(view):
        if authz.answered_at is not None or not authz.challenge_url:
            continue
        try:
            client.answer_challenge(authz.challenge_url)
        except AcmeProblem as exc:
            current = client.get_authorization(authz.url)  # answered before a crash? then the CA moved on
            chall = current.challenge(view.challenge_type)
            if current.status == "pending" and chall is not None and chall.status == "pending":
                raise exc from None
        changes[authz.id] = {"answered_at": now}
    return Outcome(VALIDATING, {"polls": 0, "waiting_since": now, "last_check": None}, authz=changes)


# ---- validating: poll the order until every authorization is valid -------------------------------
def validating(ctx: ServiceContext, client: AcmeClient, view: OrderView, now: datetime) -> Outcome:
    fulfil.serve_again(view)
    assert view.order_url
    order = client.get_order(view.order_url)
    if order.status == "ready":
        return Outcome(FINALIZING, {"ca_status": "ready", "polls": 0, "waiting_since": now})
    if order.status in ("valid", "processing"):
        return Outcome(FINALIZING, {"ca_status": order.status, "polls": 0, "waiting_since": now})
    if order.status == "invalid":
        return _validation_failure(client, view, order, now)
    return _poll_again(view, order, now, VALIDATING)


def _validation_failure(client: AcmeClient, view: OrderView, order: Order, now: datetime) -> Outcome:
    from certvault.acme_client import describe_problem

    for authz in view.authorizations:
        current = client.get_authorization(authz.url)
        problem = current.error()
        if current.status == "invalid" or problem:
            return failed(f"{current.identifier.value}: {describe_problem(problem)}", _kind(problem), problem, now)
    return failed(describe_problem(order.error), _kind(order.error), order.error, now)


def _kind(problem: dict | None) -> str:
    from certvault.acme_client.problems import short_type

    return short_type((problem or {}).get("type"))


def _poll_again(view: OrderView, order: Order, now: datetime, state: str) -> Outcome:
    since = view.waiting_since or now
    if (now - since).total_seconds() > view.runtime.validation_timeout:
        return failed(f"the CA did not finish within {view.runtime.validation_timeout:g} s (order is "
                      f"{order.status})", "timeout", now=now)
    delay = next_poll_delay(view.polls, order.retry_after)
    return Outcome(state, {"polls": view.polls + 1, "ca_status": order.status, "waiting_since": since}, wait=delay)


# ---- finalizing: send the CSR, poll until the certificate exists ----------------------------------
def finalizing(ctx: ServiceContext, client: AcmeClient, view: OrderView, now: datetime) -> Outcome:
    assert view.order_url and view.finalize_url and view.csr_der
    order: Order
    if view.ca_status == "ready":
        try:
            order = client.finalize(Order(view.order_url, "ready", (), (), view.finalize_url), view.csr_der)
        except AcmeProblem as exc:
            if exc.type != "orderNotReady":
                raise
            order = client.get_order(view.order_url)  # finalized before a crash
    else:
        order = client.get_order(view.order_url)
    if order.status == "valid" and order.certificate:
        # Validation is long over: take the responses down, recorded with this transition (so done once).
        return Outcome(DOWNLOADING, {"ca_status": "valid", "certificate_url": order.certificate},
                       authz=fulfil.remove(ctx, view))
    if order.status == "invalid":
        from certvault.acme_client import describe_problem

        return failed(describe_problem(order.error), _kind(order.error), order.error, now)  # engine cleans up
    return _poll_again(view, order, now, FINALIZING)


# ---- downloading: fetch the chain; the engine stores it with the state change ---------------------
def downloading(ctx: ServiceContext, client: AcmeClient, view: OrderView, now: datetime) -> Outcome:
    assert view.certificate_url and view.key_pem
    chain = client.download(view.certificate_url)
    leaf = x509.load_pem_x509_certificates(chain.encode())[0]
    if not keys.public_matches(keys.from_pem(view.key_pem), leaf.public_key()):
        return failed("the CA returned a certificate for a different key; nothing was stored", "key_mismatch", now=now)
    return Outcome(STORED, {"serial": format(leaf.serial_number, "x"), "not_after": leaf.not_valid_after_utc,
                            "finished_at": now, "error_problem": None}, chain_pem=chain)

"""Publish, check and remove challenge responses for an order (dns-01 via a DNS account, http-01
via the standalone responder or a webroot). Manual orders are published by a person."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from dataclasses import replace

import dns.exception

from certvault.context import ServiceContext
from certvault.deploy import http01 as deploy_http01
from certvault.errors import CertvaultError
from certvault.issuance import dns_providers, http01, propagation
from certvault.issuance.snapshot import AuthzView, DnsRef, OrderView
from certvault.plugins.protocols import DNSProvider, Propagation

log = logging.getLogger("certvault.issuance")


def dns_provider(ctx: ServiceContext, ref: DnsRef) -> DNSProvider:
    return dns_providers.provider(ctx, ref)


def pending(view: OrderView) -> list[AuthzView]:
    return [a for a in view.authorizations if a.status in ("pending", "processing") and a.token]


# ---- dns-01 through DNS accounts: which account, and where the record goes ----------------------
def account_of(view: OrderView, authz: AuthzView) -> DnsRef | None:
    """The DNS account that published (or is to publish) this name."""
    if authz.dns_account_id is not None:
        if view.dns is not None and view.dns.id == authz.dns_account_id:
            return view.dns
        return view.dns_accounts.get(authz.dns_account_id)
    return view.dns


def zones_of(ctx: ServiceContext, ref: DnsRef) -> list[str]:
    """The zones an account can edit ([] when it cannot say or fails: it is then never chosen)."""
    listing = getattr(dns_provider(ctx, ref), "zones", None)
    if listing is None:
        return []
    try:
        return [z.lower().rstrip(".") for z in listing()]
    except CertvaultError as exc:
        log.warning("DNS account %s could not list its zones: %s", ref.name, exc.message)
        return []


def choose(ctx: ServiceContext, view: OrderView, target: str) -> DnsRef | None:
    """The assigned account, else the enabled account with a zone that is the longest suffix of `target`
    (ties: the first by name), else the RFC 2136 global configuration when there is exactly one."""
    if view.dns is not None:
        return view.dns
    best: tuple[int, DnsRef] | None = None
    for ref in sorted(view.dns_accounts.values(), key=lambda r: r.name):
        for zone in zones_of(ctx, ref):
            if (target == zone or target.endswith("." + zone)) and (best is None or len(zone) > best[0]):
                best = (len(zone), ref)
    if best is not None:
        return best[1]
    catch_all = [ref for ref in view.dns_accounts.values() if is_global_rfc2136(ref)]
    return catch_all[0] if len(catch_all) == 1 else None


def is_global_rfc2136(ref: DnsRef) -> bool:
    """The seed's RFC 2136 global configuration: no zone given, one key serves every zone of the server and
    each name's zone is found where it is (the domain itself when it is a zone apex)."""
    return ref.provider == "rfc2136" and not ref.options.get("zone")


def target_of(view: OrderView, record_name: str) -> str:
    """`_acme-challenge.<name>`, or where a CNAME on it delegates validation to."""
    try:
        return propagation.follow_cname(record_name, propagation.parse_servers(list(view.runtime.resolvers)))
    except (dns.exception.DNSException, OSError) as exc:
        log.info("no CNAME answer for %s (%s): writing the record there", record_name, type(exc).__name__)
        return record_name.rstrip(".").lower()


def plan_dns(ctx: ServiceContext, view: OrderView, todo: list[AuthzView]) -> dict[uuid.UUID, AuthzView] | str:
    """Per name to publish: the authorization with its account and target filled in; or, when some name has
    no account, the reason in words."""
    planned: dict[uuid.UUID, AuthzView] = {}
    for authz in todo:
        assert authz.record_name
        target = authz.record_target or target_of(view, authz.record_name)
        ref = account_of(view, authz) if authz.dns_account_id else choose(ctx, view, target)
        if ref is None:
            where = f" (CNAME to {target})" if target != authz.record_name.lower() else ""
            return (f"no enabled DNS account has a zone containing {target}{where}: publish the TXT records by "
                    "hand, or assign a DNS account (certvault acme assign-dns)")
        planned[authz.id] = replace(authz, dns_account_id=ref.id, record_target=target)
    return planned


def dns_propagation(ctx: ServiceContext, view: OrderView) -> Propagation:
    """The longest timeout and interval among the accounts this order publishes through."""
    refs = {ref.id: ref for ref in (account_of(view, a) for a in view.authorizations) if ref is not None}
    settings = [dns_provider(ctx, ref).propagation() for ref in refs.values()]
    if not settings:
        return Propagation(60.0, 1.0)
    return Propagation(max(p.timeout for p in settings), max(p.interval for p in settings))


def publish(ctx: ServiceContext, view: OrderView, authz: AuthzView) -> None:
    """Put one response in place; safe to repeat. A dns-01 authorization comes from plan_dns."""
    assert authz.token and authz.key_authorization
    if view.fulfilment == "dns":
        ref = account_of(view, authz)
        assert ref is not None and authz.record_name and authz.record_value
        dns_provider(ctx, ref).present(authz.record_target or authz.record_name, authz.record_value)
    elif view.fulfilment == "standalone":
        http01.responder().add(authz.token, authz.key_authorization, list(view.runtime.http01_addresses),
                               view.runtime.http01_port)
    elif view.fulfilment == "webroot":
        assert view.webroot
        http01.write_webroot(view.webroot, authz.token, authz.key_authorization)
    elif view.fulfilment == "deploy":  # a mapped deploy target's webroot (deploy/http01.py); webroot = its id
        assert view.webroot
        deploy_http01.place(ctx, view.webroot, authz.token, authz.key_authorization)


def serve_again(view: OrderView) -> None:
    """After a restart the in-memory responder is empty: register the order's tokens again."""
    if view.fulfilment != "standalone":
        return
    for authz in pending(view):
        assert authz.token and authz.key_authorization
        http01.responder().add(authz.token, authz.key_authorization, list(view.runtime.http01_addresses),
                               view.runtime.http01_port)


def visible(ctx: ServiceContext, view: OrderView, authz: AuthzView) -> tuple[bool, str]:
    """Check the response the way the CA will see it, before telling the CA."""
    resolvers = propagation.parse_servers(list(view.runtime.resolvers))
    if view.challenge_type == "dns-01":
        assert authz.record_name and authz.record_value
        name = authz.record_target or authz.record_name  # the CA follows the CNAME there
        ref = account_of(view, authz) if view.fulfilment == "dns" else None
        servers = dns_provider(ctx, ref).visibility_servers(name) if ref else []
        servers = servers or propagation.parse_servers(list(view.runtime.dns_check_servers))
        if not servers:
            try:
                servers = propagation.authoritative_servers(name, resolvers)
            except Exception as exc:  # noqa: BLE001 - any resolver failure means "not visible yet"
                return False, f"cannot find the authoritative servers of {name} ({type(exc).__name__})"
        return propagation.txt_visible(name, authz.record_value, servers)
    assert authz.token and authz.key_authorization
    return propagation.http01_visible(authz.identifier, view.runtime.http01_port, authz.token,
                                      authz.key_authorization, resolvers)


def remove(ctx: ServiceContext, view: OrderView, skip: Collection[uuid.UUID] = (),
           only: list[AuthzView] | None = None, *, every: bool = False) -> dict[uuid.UUID, dict[str, object]]:
    """Take every published response down; failures are logged, never raised.

    Returns the authorization changes that record each removal (published_at cleared), so a step that
    commits them never removes the same response twice; removing again after a crash is harmless. A
    response whose removal failed stays marked published: the engine queues a cleanup job that retries.
    `every`: also the responses not marked published (a cancelled order's engine may have published one
    whose commit the cancel beat; removing what is not there succeeds).
    """
    removed: dict[uuid.UUID, dict[str, object]] = {}
    for authz in view.authorizations if only is None else only:
        if not authz.token or (authz.published_at is None and not every) or authz.id in skip:
            continue
        try:
            ref = account_of(view, authz) if view.fulfilment == "dns" else None
            if ref is not None and authz.record_name and authz.record_value:
                dns_provider(ctx, ref).cleanup(authz.record_target or authz.record_name, authz.record_value)
            elif view.fulfilment == "standalone":
                http01.responder().remove(authz.token)
            elif view.fulfilment == "webroot" and view.webroot:
                http01.remove_webroot(view.webroot, authz.token)
            elif view.fulfilment == "deploy" and view.webroot:
                deploy_http01.remove(ctx, view.webroot, authz.token)
        except Exception as exc:  # noqa: BLE001
            log.warning("cleanup of %s for order %s failed (retried later): %s", authz.identifier, view.id, exc)
            continue
        removed[authz.id] = {"published_at": None}
    return removed


def still_published(view: OrderView) -> list[AuthzView]:
    return [a for a in view.authorizations if a.token and a.published_at is not None]

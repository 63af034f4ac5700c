"""Publish, check and remove challenge responses for an order (dns-01 via a DNS account, http-01
via the standalone responder or a webroot). Manual orders are published by a person."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection

from certvault.context import ServiceContext
from certvault.issuance import dns_providers, http01, propagation
from certvault.issuance.snapshot import AuthzView, DnsRef, OrderView
from certvault.plugins.protocols import DNSProvider

log = logging.getLogger("certvault.issuance")


def dns_provider(ctx: ServiceContext, ref: DnsRef) -> DNSProvider:
    return dns_providers.provider(ctx, ref)


def pending(view: OrderView) -> list[AuthzView]:
    return [a for a in view.authorizations if a.status in ("pending", "processing") and a.token]


def publish(ctx: ServiceContext, view: OrderView, authz: AuthzView) -> None:
    """Put one response in place; safe to repeat."""
    assert authz.token and authz.key_authorization
    if view.fulfilment == "dns":
        assert view.dns is not None and authz.record_name and authz.record_value
        dns_provider(ctx, view.dns).present(authz.record_name, authz.record_value)
    elif view.fulfilment == "standalone":
        http01.responder().add(authz.token, authz.key_authorization, list(view.runtime.http01_addresses),
                               view.runtime.http01_port)
    elif view.fulfilment == "webroot":
        assert view.webroot
        http01.write_webroot(view.webroot, authz.token, authz.key_authorization)


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
        servers = dns_provider(ctx, view.dns).visibility_servers(authz.record_name) if view.dns else []
        servers = servers or propagation.parse_servers(list(view.runtime.dns_check_servers))
        if not servers:
            try:
                servers = propagation.authoritative_servers(authz.record_name, resolvers)
            except Exception as exc:  # noqa: BLE001 - any resolver failure means "not visible yet"
                return False, f"cannot find the authoritative servers of {authz.record_name} ({type(exc).__name__})"
        return propagation.txt_visible(authz.record_name, authz.record_value, servers)
    assert authz.token and authz.key_authorization
    return propagation.http01_visible(authz.identifier, view.runtime.http01_port, authz.token,
                                      authz.key_authorization, resolvers)


def remove(ctx: ServiceContext, view: OrderView, skip: Collection[uuid.UUID] = ()
           ) -> dict[uuid.UUID, dict[str, object]]:
    """Take every published response down; failures are logged, never raised (cleanup is best effort).

    Returns the authorization changes that record it (published_at cleared), so a step that
    commits them never removes the same response twice; removing again after a crash is harmless.
    """
    removed: dict[uuid.UUID, dict[str, object]] = {}
    for authz in view.authorizations:
        if not authz.token or authz.published_at is None or authz.id in skip:
            continue
        removed[authz.id] = {"published_at": None}
        try:
            if view.fulfilment == "dns" and view.dns and authz.record_name and authz.record_value:
                dns_provider(ctx, view.dns).cleanup(authz.record_name, authz.record_value)
            elif view.fulfilment == "standalone":
                http01.responder().remove(authz.token)
            elif view.fulfilment == "webroot" and view.webroot:
                http01.remove_webroot(view.webroot, authz.token)
        except Exception as exc:  # noqa: BLE001
            log.warning("cleanup of %s for order %s failed: %s", authz.identifier, view.id, exc)
    return removed

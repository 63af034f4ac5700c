"""Built DNS providers, one per account and version of its secrets, kept for the life of the process.

The engine's network steps run outside any transaction, so a provider is built (its secrets read from
the vault) while the order's snapshot is loaded, and only looked up afterwards. The key holds the
options and the versions of the vault secrets it uses: rotating a key in the vault reaches the next step.
"""

from __future__ import annotations

from typing import Any

from certvault.context import ServiceContext
from certvault.integrations.models import IntegrationAccount
from certvault.plugins.protocols import DNSProvider


def _cache(ctx: ServiceContext) -> dict[tuple[Any, ...], DNSProvider]:
    return ctx.process.dns_providers


def key_of(ref: Any) -> tuple[Any, ...]:
    return ref.id, repr(sorted(ref.options.items())), ref.secret_versions, repr(sorted(ref.connection.items()))


def warm(ctx: ServiceContext, ref: Any) -> None:
    """Build the provider of `ref` unless built (inside the snapshot's transaction)."""
    if key_of(ref) not in _cache(ctx):
        from certvault.issuance.dns_accounts import integrations

        # the snapshot already read the account's row: a detached copy saves reading it again
        account = IntegrationAccount(id=ref.id, kind="dns", plugin=ref.provider, name=ref.name,
                                     options=ref.options, secret_refs=ref.secret_refs, connection=ref.connection)
        _cache(ctx)[key_of(ref)] = integrations(ctx).dns_provider(account, "dns-01", audited=False)


def provider(ctx: ServiceContext, ref: Any) -> DNSProvider:
    built = _cache(ctx).get(key_of(ref))
    if built is None:  # not warmed by this process's snapshot (e.g. a cleanup after a restart)
        warm(ctx, ref)
        built = _cache(ctx)[key_of(ref)]
    return built

"""DNS accounts: integration accounts of kind "dns" that answer dns-01 challenges, plus what ACME adds
(an account in use by an order or a managed certificate cannot be deleted)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from certvault.auth.rbac import Actor, Permission, require
from certvault.context import ServiceContext
from certvault.errors import CertvaultError, Conflict, InvalidInput
from certvault.integrations.models import IntegrationAccount
from certvault.integrations.service import BoundClients, IntegrationService
from certvault.issuance.models import AcmeOrder, ManagedCertificate
from certvault.plugins.registry import PluginRegistry

KIND = "dns"


def registry(ctx: ServiceContext) -> PluginRegistry:
    return ctx.process.plugins


def integrations(ctx: ServiceContext) -> IntegrationService:
    return ctx.integrations()


def _check_connection(connection: dict[str, Any]) -> None:
    from pydantic import ValidationError

    from certvault.outbound import ClientOptions

    try:
        ClientOptions.model_validate(connection)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(f"connection: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None


class DnsAccountService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._s = ctx.session
        self._accounts = integrations(ctx)

    def providers(self, actor: Actor) -> list[dict[str, Any]]:
        out = []
        for info in self._accounts.plugin_infos(actor, KIND):
            schema = info.options_model.model_json_schema()
            out.append({"name": info.name, "title": info.title, "secret_fields": list(info.secret_fields),
                        "options": sorted(schema.get("properties", {})), "required": schema.get("required", [])})
        return out

    def list_accounts(self, actor: Actor) -> list[IntegrationAccount]:
        return self._accounts.list_accounts(actor, KIND)

    def get(self, actor: Actor, account_id: uuid.UUID | str) -> IntegrationAccount:
        return self._accounts.get(actor, KIND, account_id)

    def load(self, account_id: uuid.UUID | str) -> IntegrationAccount:
        return self._accounts.find(KIND, account_id)

    def add(self, actor: Actor, provider: str, name: str, options: dict[str, Any],
            secrets: dict[str, str], register: bool = False,
            connection: dict[str, Any] | None = None) -> IntegrationAccount:
        """`register`: the provider makes a new registration first (acme-dns POST /register), whose
        credentials the account then holds; its options then say where names must point (fulldomain).
        `connection`: the outbound client settings of the account (trust, proxy, pacing), used already
        by the registration."""
        if connection:
            _check_connection(connection)
        if register:
            require(actor, Permission.DNS_ACCOUNTS)
            make = getattr(registry(self._ctx).get(KIND, provider).cls, "register", None)
            if make is None:
                raise InvalidInput(f"the {provider} DNS provider cannot register new accounts")
            options, made = make(options, BoundClients(f"{KIND}:register:{provider}", dict(connection or {})))
            secrets = {**secrets, **made}
        account = self._accounts.add(actor, KIND, provider, name, options, secrets)
        if connection:
            account.connection = dict(connection)
        return account

    def test(self, actor: Actor, account_id: uuid.UUID | str) -> dict[str, Any]:
        """Test connection: one call that proves the credentials (check()), then the zones they can edit.
        Changes nothing. A refusal is the answer {"ok": false, "error": ...}, recorded like a success."""
        require(actor, Permission.DNS_ACCOUNTS)
        account = self.load(account_id)
        result: dict[str, Any]
        try:
            provider: Any = self._accounts.build(account, "test")
            checked = provider.check()
            listing = getattr(provider, "zones", None)
            result = {"ok": True, "result": checked, "zones": sorted(listing()) if listing else []}
        except CertvaultError as exc:
            result = {"ok": False, "error": exc.message}
        self._ctx.audit.record(actor, "integration.test", target_type="integration", target_id=account.id,
                               outcome="success" if result["ok"] else "failure",
                               details={"kind": KIND, "name": account.name, **{k: v for k, v in result.items()
                                                                             if k != "zones"},
                                        "zone_count": len(result.get("zones", []))})
        return result

    def update(self, actor: Actor, account_id: uuid.UUID | str, options: dict[str, Any] | None = None,
               secrets: dict[str, str] | None = None) -> IntegrationAccount:
        return self._accounts.update(actor, KIND, account_id, options, secrets)

    def delete(self, actor: Actor, account_id: uuid.UUID | str) -> None:
        require(actor, Permission.DNS_ACCOUNTS)
        account = self.load(account_id)
        used = (self._s.scalar(select(func.count()).select_from(ManagedCertificate).where(
            ManagedCertificate.dns_account_id == account.id)) or 0) + (self._s.scalar(
                select(func.count()).select_from(AcmeOrder).where(AcmeOrder.dns_account_id == account.id)) or 0)
        if used:
            raise Conflict(f"DNS account {account.name} is used by {used} order(s) or managed certificate(s)")
        self._accounts.delete(actor, KIND, account.id)

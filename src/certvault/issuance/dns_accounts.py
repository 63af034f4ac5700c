"""DNS accounts: which DNS service answers dns-01 challenges, with its credentials sealed."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import func, select

from certvault.auth.rbac import Actor, Permission, require
from certvault.context import ServiceContext
from certvault.errors import Conflict, InvalidInput, NotFound
from certvault.issuance.models import AcmeOrder, DnsAccount, ManagedCertificate
from certvault.plugins.protocols import DNSProvider
from certvault.plugins.registry import PluginRegistry, default_registry


def registry(ctx: ServiceContext) -> PluginRegistry:
    return ctx.extras.get("plugins") or default_registry()


def open_dns_secrets(ctx: ServiceContext, account: DnsAccount) -> dict[str, str]:
    """The one place DNS credentials are opened (the vault work will resolve references here)."""
    return dict(json.loads(ctx.sealer.open_text(account.secrets_sealed, aad=f"acme_dns_accounts:{account.id}")))


def build_provider(ctx: ServiceContext, account: DnsAccount) -> DNSProvider:
    secrets = open_dns_secrets(ctx, account)

    def resolve(field: str) -> str:
        if field not in secrets:
            raise InvalidInput(f"DNS account {account.name} has no secret {field}")
        return secrets[field]

    return registry(ctx).create("dns", account.provider, dict(account.options), resolve)


class DnsAccountService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._s = ctx.session

    def providers(self, actor: Actor) -> list[dict[str, Any]]:
        require(actor, Permission.ACME_READ)
        reg = registry(self._ctx)
        out = []
        for name in reg.names("dns"):
            info = reg.get("dns", name)
            schema = info.options_model.model_json_schema()
            out.append({"name": name, "title": info.title, "secret_fields": list(info.secret_fields),
                        "options": sorted(schema.get("properties", {})), "required": schema.get("required", [])})
        return out

    def list_accounts(self, actor: Actor) -> list[DnsAccount]:
        require(actor, Permission.ACME_READ)
        return list(self._s.scalars(select(DnsAccount).order_by(DnsAccount.name)))

    def get(self, actor: Actor, account_id: uuid.UUID | str) -> DnsAccount:
        require(actor, Permission.ACME_READ)
        return self.load(account_id)

    def load(self, account_id: uuid.UUID | str) -> DnsAccount:
        try:
            key = account_id if isinstance(account_id, uuid.UUID) else uuid.UUID(str(account_id))
        except ValueError:
            account = self._s.scalar(select(DnsAccount).where(DnsAccount.name == str(account_id)))
            if account is None:
                raise NotFound(f"no DNS account {account_id}") from None
            return account
        account = self._s.get(DnsAccount, key)
        if account is None:
            raise NotFound(f"no DNS account {account_id}")
        return account

    def add(self, actor: Actor, provider: str, name: str, options: dict[str, Any],
            secrets: dict[str, str]) -> DnsAccount:
        require(actor, Permission.DNS_ACCOUNTS)
        name = (name or "").strip()
        if not name or len(name) > 150:
            raise InvalidInput("a DNS account needs a name (1-150 characters)")
        options = {k: v for k, v in options.items() if v not in (None, "")}
        model = registry(self._ctx).validate("dns", provider, options, secrets)
        if self._s.scalar(select(DnsAccount).where(DnsAccount.name == name)) is not None:
            raise Conflict(f"a DNS account named {name!r} already exists")
        account = DnsAccount(id=uuid.uuid4(), name=name, provider=provider, created_by=actor.name,
                             options=model.model_dump(mode="json", exclude_defaults=True), secrets_sealed=b"")
        account.secrets_sealed = self._seal(account.id, secrets)
        build_provider_check = registry(self._ctx).get("dns", provider)
        self._s.add(account)
        self._s.flush()
        self._ctx.audit.record(actor, "acme.dns_account.add", target_type="dns_account", target_id=account.id,
                               details={"name": name, "provider": build_provider_check.name,
                                        "options": account.options, "secret_fields": sorted(secrets)})
        return account

    def update(self, actor: Actor, account_id: uuid.UUID | str, options: dict[str, Any] | None = None,
               secrets: dict[str, str] | None = None) -> DnsAccount:
        require(actor, Permission.DNS_ACCOUNTS)
        account = self.load(account_id)
        merged_options = {**account.options, **{k: v for k, v in (options or {}).items() if v not in (None, "")}}
        merged_secrets = {**open_dns_secrets(self._ctx, account), **{k: v for k, v in (secrets or {}).items() if v}}
        model = registry(self._ctx).validate("dns", account.provider, merged_options, merged_secrets)
        account.options = model.model_dump(mode="json", exclude_defaults=True)
        account.secrets_sealed = self._seal(account.id, merged_secrets)
        self._ctx.audit.record(actor, "acme.dns_account.update", target_type="dns_account", target_id=account.id,
                               details={"options": account.options, "secrets_changed": sorted(secrets or {})})
        return account

    def delete(self, actor: Actor, account_id: uuid.UUID | str) -> None:
        require(actor, Permission.DNS_ACCOUNTS)
        account = self.load(account_id)
        used = (self._s.scalar(select(func.count()).select_from(ManagedCertificate).where(
            ManagedCertificate.dns_account_id == account.id)) or 0) + (self._s.scalar(
                select(func.count()).select_from(AcmeOrder).where(AcmeOrder.dns_account_id == account.id)) or 0)
        if used:
            raise Conflict(f"DNS account {account.name} is used by {used} order(s) or managed certificate(s)")
        self._ctx.audit.record(actor, "acme.dns_account.delete", target_type="dns_account", target_id=account.id,
                               details={"name": account.name, "provider": account.provider})
        self._s.delete(account)
        self._s.flush()

    def _seal(self, account_id: uuid.UUID, secrets: dict[str, str]) -> bytes:
        return self._ctx.sealer.seal(json.dumps(secrets), aad=f"acme_dns_accounts:{account_id}")

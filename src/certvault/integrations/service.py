"""Integration accounts of every kind: add, update, enable, disable, delete, test, and build the plugin.

Secrets live in the vault as system secrets, one per account, in a folder per kind under
"certvault/Integrations" (sealed, audited, with history and permissions like every secret); an
account holds references to them, so rotating a value in the vault reaches every account that
refers to it. A plugin opens a secret only when it asks for it, and each opening is audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from certvault.auth.rbac import Actor, Permission, require
from certvault.context import ServiceContext
from certvault.db.lookup import by_id_or_name
from certvault.errors import Conflict, InvalidInput, NotFound
from certvault.integrations.models import KINDS, IntegrationAccount
from certvault.integrations.security import ConnectionSecurity, describe_security, trust_settings, trusted_pem
from certvault.names import MAX_SHORT_NAME, check_name
from certvault.plugins.protocols import DeployTarget, DNSProvider, HelpDesk, HttpClientFactory, Notifier, SecretResolver
from certvault.plugins.registry import PluginInfo, PluginRegistry

if TYPE_CHECKING:
    from certvault.certificates.service import CertificateService
    from certvault.outbound import ClientIdentity
    from certvault.vault.service import VaultService

SYSTEM_FOLDER = "certvault/Integrations"
KIND_FOLDERS = {"dns": "DNS accounts", "notify": "Notification channels", "ticketing": "Help desks",
                "deploy": "Deploy targets"}
KIND_TITLES = {"dns": "DNS account", "notify": "notification channel", "ticketing": "help desk",
               "deploy": "deploy target"}
_MANAGE = {"dns": Permission.DNS_ACCOUNTS}  # other kinds: settings.manage
_READ = {"dns": Permission.ACME_READ}


def folder_of(kind: str) -> str:
    return f"{SYSTEM_FOLDER}/{KIND_FOLDERS[kind]}"


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInput(f"unknown integration kind {kind!r}; choose one of {', '.join(KINDS)}")
    return kind


def _given(values: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (values or {}).items() if v not in (None, "")}


class IntegrationService:
    def __init__(self, ctx: ServiceContext, vault: VaultService, plugins: PluginRegistry,
                 certificates: Callable[[], CertificateService]) -> None:
        self._ctx = ctx
        self._s = ctx.session
        self._vault = vault
        self.plugins = plugins
        self._security = ConnectionSecurity(ctx, vault, certificates)

    # ---- reading -----------------------------------------------------------------------------
    def plugin_infos(self, actor: Actor, kind: str) -> list[PluginInfo]:
        require(actor, _READ.get(_kind(kind), Permission.SETTINGS_MANAGE))
        return [self.plugins.get(kind, name) for name in self.plugins.names(kind)]

    def list_accounts(self, actor: Actor, kind: str) -> list[IntegrationAccount]:
        require(actor, _READ.get(_kind(kind), Permission.SETTINGS_MANAGE))
        stmt = select(IntegrationAccount).where(IntegrationAccount.kind == kind).order_by(IntegrationAccount.name)
        return list(self._s.scalars(stmt))

    def get(self, actor: Actor, kind: str, ref: uuid.UUID | str) -> IntegrationAccount:
        require(actor, _READ.get(_kind(kind), Permission.SETTINGS_MANAGE))
        return self.find(kind, ref)

    def find(self, kind: str, ref: uuid.UUID | str) -> IntegrationAccount:
        """By id or by name: the one lookup every edge uses."""
        account = by_id_or_name(self._s, IntegrationAccount, ref, IntegrationAccount.name,
                                IntegrationAccount.kind == kind)
        if account is None or account.kind != kind:
            raise NotFound(f"no {KIND_TITLES[kind]} {ref}")
        return account

    # ---- changing ----------------------------------------------------------------------------
    def add(self, actor: Actor, kind: str, plugin: str, name: str, options: Mapping[str, Any],
            secrets: Mapping[str, str]) -> IntegrationAccount:
        self._manage(actor, kind, plugin)
        name = check_name((name or "").strip(), f"{KIND_TITLES[kind]} name", MAX_SHORT_NAME)
        given, values = _given(options), _given(secrets)
        model = self.plugins.validate(kind, plugin, given, values)
        if self._s.scalar(select(IntegrationAccount.id).where(IntegrationAccount.kind == kind,
                                                              IntegrationAccount.name == name)) is not None:
            raise Conflict(f"a {KIND_TITLES[kind]} named {name!r} already exists")
        account = IntegrationAccount(id=uuid.uuid4(), kind=kind, plugin=plugin, name=name, created_by=actor.name,
                                     options=model.model_dump(mode="json", exclude_defaults=True), secret_refs={},
                                     connection={})
        self._s.add(account)
        self._s.flush()
        if values:
            self.store_secrets(account, values)
        self._ctx.audit.record(actor, "integration.add", target_type="integration", target_id=account.id,
                               details={"kind": kind, "plugin": plugin, "name": name, "options": account.options,
                                        "secret_fields": sorted(values)})
        return account

    def update(self, actor: Actor, kind: str, ref: uuid.UUID | str, options: Mapping[str, Any] | None = None,
               secrets: Mapping[str, str] | None = None) -> IntegrationAccount:
        self._manage(actor, kind)
        account = self.find(kind, ref)
        self._manage(actor, kind, account.plugin)
        changed = _given(secrets)
        merged_options = {**account.options, **_given(options)}
        resolve = self.resolver(account, "update")
        current = {f: resolve(f) for f in account.secret_refs if f not in changed}
        model = self.plugins.validate(kind, account.plugin, merged_options, {**_given(current), **changed})
        account.options = model.model_dump(mode="json", exclude_defaults=True)
        if changed:
            self.store_secrets(account, changed)
        self._ctx.audit.record(actor, "integration.update", target_type="integration", target_id=account.id,
                               details={"kind": kind, "name": account.name, "options": account.options,
                                        "secrets_changed": sorted(changed)})
        return account

    def set_enabled(self, actor: Actor, kind: str, ref: uuid.UUID | str, enabled: bool) -> IntegrationAccount:
        self._manage(actor, kind)
        account = self.find(kind, ref)
        self._manage(actor, kind, account.plugin)
        account.enabled = enabled
        self._ctx.audit.record(actor, "integration.enable" if enabled else "integration.disable",
                               target_type="integration", target_id=account.id,
                               details={"kind": kind, "name": account.name})
        return account

    def delete(self, actor: Actor, kind: str, ref: uuid.UUID | str) -> None:
        """Remove the account; its vault secret is retired unless another account still refers to it."""
        self._manage(actor, kind)
        account = self.find(kind, ref)
        self._manage(actor, kind, account.plugin)
        self._ctx.audit.record(actor, "integration.delete", target_type="integration", target_id=account.id,
                               details={"kind": kind, "name": account.name, "plugin": account.plugin})
        mine = {r["secret"] for r in account.secret_refs.values()}
        self._s.delete(account)
        self._s.flush()
        others = {r["secret"] for other in self._s.scalars(select(IntegrationAccount))
                  for r in other.secret_refs.values()}
        for secret_id in mine - others:
            self._vault.secrets.deactivate(self._system("delete"), uuid.UUID(secret_id))

    def _manage(self, actor: Actor, kind: str, plugin: str | None = None) -> None:
        """The kind's permission; a plugin marked `admin_only` (it runs commands: dns hook) needs an administrator."""
        require(actor, _MANAGE.get(_kind(kind), Permission.SETTINGS_MANAGE))
        if plugin is not None and getattr(self.plugins.get(kind, plugin).cls, "admin_only", False):
            require(actor, Permission.SETTINGS_MANAGE)

    def store_secrets(self, account: IntegrationAccount, values: Mapping[str, str]) -> None:
        """New values go into the account's vault secret (its history keeps the old ones)."""
        refs = dict(account.secret_refs)
        own = next((r["secret"] for r in refs.values()), None)
        system = self._system("store")
        if own is None:
            own = str(self._vault.create_system_secret(system, folder_path=folder_of(account.kind),
                                                       name=f"{account.name} ({account.plugin})",
                                                       template="generic", fields=dict(values)))
        else:
            self._vault.secrets.update(system, uuid.UUID(own), fields=dict(values))
        refs.update({field: {"secret": own, "field": field} for field in values})
        account.secret_refs = refs

    def _system(self, purpose: str) -> Actor:
        return Actor.system(f"certvault:integrations:{purpose}")

    # ---- using -------------------------------------------------------------------------------
    def resolver(self, account: IntegrationAccount, purpose: str) -> SecretResolver:
        """Opens one secret field when the plugin asks for it ("" for an optional one not set)."""
        refs = dict(account.secret_refs)
        opened: dict[str, str] = {}

        def resolve(field: str) -> str:
            if field not in opened:
                ref = refs.get(field)
                opened[field] = "" if ref is None else self._vault.resolve_field(
                    uuid.UUID(ref["secret"]), ref["field"], purpose=f"{account.kind}:{account.name}:{purpose}")
            return opened[field]

        return resolve

    def read_secrets(self, account: IntegrationAccount) -> dict[str, str]:
        """The values, read without writing (no audit row): for a read-only step such as the ACME
        engine's snapshot, which caches the built plugin per secret version (issuance/dns_providers.py)."""
        out: dict[str, str] = {}
        for field, ref in account.secret_refs.items():
            stored = {f.slug: f for f in self._vault.store.fields(uuid.UUID(ref["secret"]))}
            if ref["field"] not in stored:
                raise NotFound(f"{KIND_TITLES[account.kind]} {account.name}: its vault secret has no field "
                               f"{ref['field']!r}")
            out[field] = self._vault.store.read(stored[ref["field"]], None).decode()
        return out

    def http_for(self, account: IntegrationAccount, on_request: Callable[[Any], None] | None = None
                 ) -> HttpClientFactory:
        """The shared outbound client, bound to this account's connection settings, client certificate (opened
        now, in the caller's transaction) and pacing bucket; the plugin's `connection_defaults` (e.g. a
        provider's documented rate limit) fill what the account leaves unset."""
        defaults = getattr(self.plugins.get(account.kind, account.plugin).cls, "connection_defaults", {})
        identity = self._security.identity(dict(account.client_identity or {}))
        return BoundClients(f"{account.kind}:{account.id}", {**defaults, **account.connection}, identity, on_request)

    # ---- mutual TLS and trust ----------------------------------------------------------------------
    def secure(self, actor: Actor, kind: str, ref: uuid.UUID | str, *, keystore: bytes | None = None,
               keystore_password: str | None = None, client_cert: str | None = None,
               trusted_cert: bytes | str | None = None, clear_identity: bool = False,
               clear_trust: bool = False) -> IntegrationAccount:
        """The client certificate offered when the server asks for one (a JKS or PKCS#12 keystore with its
        password, or a client certificate of the internal CA) and the certificate the server must present (a
        CA, or the server's own certificate, pinned). A keystore is opened now: a wrong password, no private
        key, a chain not matching the key or an expired certificate is refused and nothing changes."""
        self._manage(actor, kind)
        account = self.find(kind, ref)
        if keystore is not None and client_cert:
            raise InvalidInput("give either a client keystore or an internal CA client certificate, not both")
        connection = dict(account.connection)
        if clear_trust or trusted_cert is not None:  # a new trusted certificate replaces the old one
            for field in ("trust", "ca_bundle", "pinned_certificate"):
                connection.pop(field, None)
        if trusted_cert is not None:
            connection.update(trust_settings(trusted_pem(trusted_cert)))
        identity = {} if clear_identity else dict(account.client_identity or {})
        if keystore is not None:
            identity = self._security.from_keystore(account, folder_of(kind), keystore, keystore_password or "")
        elif client_cert:
            identity = self._security.from_internal_ca(actor, client_cert)
        account.connection, account.client_identity = connection, identity
        self._s.flush()
        self._ctx.audit.record(actor, "integration.secure", target_type="integration", target_id=account.id,
                               details={"kind": kind, "name": account.name, **describe_security(account)})
        return account

    def _opened(self, account: IntegrationAccount, purpose: str, audited: bool) -> SecretResolver:
        """Every secret the account refers to, opened now in the caller's transaction (a plugin often runs
        after that transaction ended, e.g. a delivery sent outside it). Each opening is audited unless
        `audited` is False (read-only callers)."""
        if audited:
            resolve = self.resolver(account, purpose)
            opened = {field: resolve(field) for field in account.secret_refs}
        else:
            opened = self.read_secrets(account)
        return lambda field: opened.get(field, "")

    def _args(self, account: IntegrationAccount, kind: str, purpose: str, http: HttpClientFactory | None,
              audited: bool) -> tuple[str, dict[str, Any], SecretResolver, HttpClientFactory]:
        if account.kind != kind:
            raise InvalidInput(f"{account.name} is a {KIND_TITLES[account.kind]}, not a {KIND_TITLES[kind]}")
        return account.plugin, dict(account.options), self._opened(account, purpose, audited), \
            http or self.http_for(account)

    def build(self, account: IntegrationAccount, purpose: str = "use",
              http: HttpClientFactory | None = None, *, audited: bool = True) -> object:
        """The plugin of any kind (see the typed builders below for a known kind)."""
        return self.plugins.create(account.kind, *self._args(account, account.kind, purpose, http, audited))

    def dns_provider(self, account: IntegrationAccount, purpose: str = "dns-01",
                     http: HttpClientFactory | None = None, *, audited: bool = True) -> DNSProvider:
        return self.plugins.create("dns", *self._args(account, "dns", purpose, http, audited))

    def notifier(self, account: IntegrationAccount, purpose: str = "deliver",
                 http: HttpClientFactory | None = None, *, audited: bool = True) -> Notifier:
        return self.plugins.create("notify", *self._args(account, "notify", purpose, http, audited))

    def help_desk(self, account: IntegrationAccount, purpose: str = "tickets",
                  http: HttpClientFactory | None = None, *, audited: bool = True) -> HelpDesk:
        return self.plugins.create("ticketing", *self._args(account, "ticketing", purpose, http, audited))

    def deploy_target(self, account: IntegrationAccount, purpose: str = "deploy",
                      http: HttpClientFactory | None = None, *, audited: bool = True) -> DeployTarget:
        return self.plugins.create("deploy", *self._args(account, "deploy", purpose, http, audited))

    def check(self, actor: Actor, kind: str, ref: uuid.UUID | str) -> str:
        """Test connection: one harmless call that proves the options and credentials work."""
        self._manage(actor, kind)
        account = self.find(kind, ref)
        self._manage(actor, kind, account.plugin)
        plugin = self.build(account, "test")
        probe: Callable[[], str] | None = getattr(plugin, "check", None)
        if probe is None:
            raise InvalidInput(f"the {account.plugin} plugin has no connection test")
        result = probe()
        self._ctx.audit.record(actor, "integration.test", target_type="integration", target_id=account.id,
                               details={"kind": kind, "name": account.name, "result": result})
        return result


class BoundClients:
    """HttpClientFactory for one account: every client shares the process's pool of pacing buckets. The
    outbound package (httpx) loads when a plugin first asks for a client; an rfc2136 account never does."""

    def __init__(self, account_key: str, connection: Mapping[str, Any], identity: ClientIdentity | None = None,
                 on_request: Callable[[Any], None] | None = None) -> None:
        self._key = account_key
        self._connection = connection
        self._identity = identity
        self._on_request = on_request  # e.g. counting calls (bench/tickets)

    def __call__(self, *, base_url: str = "", headers: Mapping[str, str] | None = None, auth: Any = None,
                 ca_bundle: str | None = None) -> Any:
        from certvault.outbound import ClientOptions

        options = ClientOptions.model_validate(self._connection)
        if base_url:
            options = options.model_copy(update={"base_url": base_url})
        if ca_bundle and options.trust == "system":  # the plugin names its own CA (e.g. a webhook's ca_file)
            options = type(options).model_validate({**options.model_dump(), "trust": "ca_bundle",
                                                    "ca_bundle": ca_bundle})
        client = outbound_clients().client_for(self._key, options, self._identity)
        client.headers.update(headers or {})
        if self._on_request is not None:
            client.event_hooks["request"].append(self._on_request)
        if auth is not None:
            client.auth = auth
        return client

    def ssl_context(self, *, ca_bundle: str | None = None) -> Any:
        """The same TLS settings (trust store, CA bundle or pinned certificate) for a channel that speaks SMTP or
        syslog over TLS instead of HTTPS; `ca_bundle` as in __call__."""
        from certvault.outbound import ClientOptions
        from certvault.outbound.trust import ssl_context

        options = ClientOptions.model_validate(self._connection)
        if ca_bundle and options.trust == "system":
            options = type(options).model_validate({**options.model_dump(), "trust": "ca_bundle",
                                                    "ca_bundle": ca_bundle})
        return ssl_context(options, self._identity)


_CLIENTS: Any = None


def outbound_clients() -> Any:
    """One OutboundClients per process (its pacing buckets are per process)."""
    global _CLIENTS
    if _CLIENTS is None:
        from certvault.outbound import OutboundClients

        _CLIENTS = OutboundClients()
    return _CLIENTS

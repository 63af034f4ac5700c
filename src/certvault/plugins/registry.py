"""Plugins by (kind, name): built-ins listed here, third-party ones from entry points.

Adding a provider is one module and one line in BUILTIN. A plugin class declares `name`, `title`,
`Options` (a pydantic model of its non-secret settings) and `secret_fields` (of which
`required_secrets`, by default all, must be given); an optional static `validate_secrets(options,
secrets)` checks rules between them. The registry validates options and secrets and builds the
instance with a secret resolver and the shared HTTP client factory, so plugins stay leaves.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from typing import Any, Literal, overload

from pydantic import BaseModel, ValidationError

from certvault.errors import InvalidInput, NotFound
from certvault.plugins.protocols import DeployTarget, DNSProvider, HelpDesk, HttpClientFactory, Notifier, SecretResolver

KINDS = ("dns", "notify", "ticketing", "deploy", "keystore")

BUILTIN: dict[str, dict[str, str]] = {
    "dns": {
        "rfc2136": "certvault.plugins.dns.rfc2136:Rfc2136Provider",
        "route53": "certvault.plugins.dns.route53:Route53Provider",
        "acme-dns": "certvault.plugins.dns.acme_dns:AcmeDnsProvider",
        "hook": "certvault.plugins.dns.hook:HookProvider",
        "cloudflare": "certvault.plugins.dns.cloudflare:CloudflareProvider",
        "azure": "certvault.plugins.dns.azure:AzureProvider",
        "cloudns": "certvault.plugins.dns.cloudns:ClouDNSProvider",
        "godaddy": "certvault.plugins.dns.godaddy:GoDaddyProvider",
    },
    "notify": {
        "email": "certvault.plugins.notify.email:EmailNotifier",
        "syslog": "certvault.plugins.notify.syslog:SyslogNotifier",
        "webhook": "certvault.plugins.notify.webhook:WebhookNotifier",
    },
    "ticketing": {
        "servicenow": "certvault.plugins.ticketing.servicenow:ServiceNowHelpDesk",
        "servicedeskplus": "certvault.plugins.ticketing.servicedeskplus:ServiceDeskPlusHelpDesk",
        "jira": "certvault.plugins.ticketing.jira:JiraHelpDesk",
    },
    "deploy": {
        "ssh": "certvault.plugins.deploy.ssh:SshTarget",
        "local": "certvault.plugins.deploy.local:LocalTarget",
        "acm": "certvault.plugins.deploy.acm:AcmTarget",
        "webhook": "certvault.plugins.deploy.webhook:WebhookTarget",
        "agent": "certvault.plugins.deploy.agent:AgentTarget",
    },
    "keystore": {},
}

KIND_TITLES = {"dns": "DNS provider", "notify": "channel kind", "ticketing": "help desk", "deploy": "deploy target",
               "keystore": "keystore format"}


@dataclass(frozen=True)
class PluginInfo:
    kind: str
    name: str
    cls: type[Any]

    @property
    def title(self) -> str:
        return str(getattr(self.cls, "title", self.name))

    @property
    def options_model(self) -> type[BaseModel]:
        model: type[BaseModel] = self.cls.Options  # every plugin class declares it
        return model

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return tuple(getattr(self.cls, "secret_fields", ()))

    @property
    def required_secrets(self) -> tuple[str, ...]:
        return tuple(getattr(self.cls, "required_secrets", self.secret_fields))


def _load(ref: str) -> type[Any]:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


class PluginRegistry:
    def __init__(self, builtin: dict[str, dict[str, str]] | None = None, discover: bool = True) -> None:
        self._refs: dict[str, dict[str, str | type[Any]]] = {k: dict(v) for k, v in (builtin or BUILTIN).items()}
        self._discover = discover
        self._discovered = False
        self._lock = threading.Lock()

    def register(self, kind: str, name: str, plugin: str | type[Any]) -> None:
        """Add (or replace) a plugin at run time, by class or by "module:Class" reference."""
        self._refs.setdefault(kind, {})[name] = plugin

    def _entry_points(self) -> None:
        """Read the installed distributions' `certvault.<kind>` entry points, once for every kind (one scan of
        site-packages, which costs tens of milliseconds in a large environment)."""
        with self._lock:
            if self._discovered or not self._discover:
                return
            from importlib.metadata import entry_points  # ~10 ms to import: only when a scan is needed

            installed = entry_points()
            for kind in KINDS:
                for ep in installed.select(group=f"certvault.{kind}"):
                    self._refs.setdefault(kind, {}).setdefault(ep.name, ep.value)
            self._discovered = True

    def names(self, kind: str) -> list[str]:
        self._entry_points()
        return sorted(self._refs.get(kind, {}))

    def get(self, kind: str, name: str) -> PluginInfo:
        if name not in self._refs.get(kind, {}):  # built-ins win over entry points: no scan needed for them
            self._entry_points()
        ref = self._refs.get(kind, {}).get(name)
        if ref is None:
            choices = ", ".join(self.names(kind)) or "none installed"
            raise NotFound(f"unknown {KIND_TITLES.get(kind, kind)} {name!r}; choose one of: {choices}")
        cls = _load(ref) if isinstance(ref, str) else ref
        return PluginInfo(kind, name, cls)

    def validate(self, kind: str, name: str, options: dict[str, Any], secrets: dict[str, str]) -> BaseModel:
        """Check options against the plugin's model and that every secret is given; names the field."""
        info = self.get(kind, name)
        unknown = set(options) & set(info.secret_fields)
        if unknown:
            raise InvalidInput(f"{', '.join(sorted(unknown))} is a secret; pass it as a secret, not an option")
        try:
            model = info.options_model.model_validate(options)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "options"
            raise InvalidInput(f"{info.title}: {where}: {first['msg']}") from None
        extra = sorted(set(secrets) - set(info.secret_fields))
        if extra:
            takes = ", ".join(info.secret_fields) or "none"
            raise InvalidInput(f"{info.title}: unknown secret {', '.join(extra)} (it takes: {takes})")
        missing = [f for f in info.required_secrets if not secrets.get(f)]
        if missing:
            raise InvalidInput(f"{info.title}: missing secret {', '.join(missing)}")
        check = getattr(info.cls, "validate_secrets", None)
        if check is not None:
            check(model, secrets)
        return model

    @overload
    def create(self, kind: Literal["dns"], name: str, options: dict[str, Any], secrets: SecretResolver,
               http: HttpClientFactory | None = None) -> DNSProvider: ...

    @overload
    def create(self, kind: Literal["notify"], name: str, options: dict[str, Any], secrets: SecretResolver,
               http: HttpClientFactory | None = None) -> Notifier: ...

    @overload
    def create(self, kind: Literal["ticketing"], name: str, options: dict[str, Any], secrets: SecretResolver,
               http: HttpClientFactory | None = None) -> HelpDesk: ...

    @overload
    def create(self, kind: Literal["deploy"], name: str, options: dict[str, Any], secrets: SecretResolver,
               http: HttpClientFactory | None = None) -> DeployTarget: ...

    @overload
    def create(self, kind: str, name: str, options: dict[str, Any], secrets: SecretResolver,
               http: HttpClientFactory | None = None) -> object: ...

    def create(self, kind: str, name: str, options: dict[str, Any], secrets: SecretResolver,
               http: HttpClientFactory | None = None) -> object:
        """The plugin built from stored options: typed by its kind's protocol when the kind is a literal."""
        info = self.get(kind, name)
        try:
            model = info.options_model.model_validate(options)
        except ValidationError as exc:
            raise InvalidInput(f"{info.title}: stored options are no longer valid ({exc.errors()[0]['msg']})") from None
        return info.cls(model, secrets, http)


_DEFAULT: PluginRegistry | None = None
_DEFAULT_LOCK = threading.Lock()


def default_registry() -> PluginRegistry:
    """The process-wide registry (built-ins plus entry points)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = PluginRegistry()
        return _DEFAULT

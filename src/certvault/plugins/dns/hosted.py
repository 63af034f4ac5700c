"""What every hosted DNS provider (an HTTPS API) shares: zone lookup, a zone-list cache, TXT merging,
options, error wording and pacing defaults. A leaf: imports only plugins.protocols, errors and
third-party libraries (httpx only through the `http` factory, so building a plugin loads nothing heavy).

API (a plugin subclasses `HostedProvider` and its options subclass `HostedOptions`):

- `api_url(value)`: the rule for an API base URL option (`endpoint`, Azure's `authority_url`).
- `HostedOptions`: `endpoint` (API base URL; None = the provider's production URL; production code
  reaches a test server by this URL alone), `propagation_timeout` and `polling_interval` (seconds),
  `ttl`. A plugin overrides the defaults and adds its own fields.
- `HostedProvider`: the class attributes `name`, `title`, `secret_fields`, `Options`,
  `default_endpoint`, `hints` (what to check per refusal) and `connection_defaults` (the outbound
  client's pacing for accounts that set none, e.g. Cloudflare `{"pacing_requests": 50,
  "pacing_interval": 15}`: a token bucket whose burst plus refill over the provider's window stays
  under its documented limit; IntegrationService.http_for applies them).
  A subclass implements `_load_zones() -> {zone name: provider zone id}` (one full, paged listing),
  `_add(zone, fqdn, value)` and `_remove(zone, fqdn, value)`, and may override `identity()` (the
  non-secret options that tell accounts apart), `headers()` (auth headers), `check()`,
  `error_detail(response)` / `error_status(response)` (its error bodies) and `error_hints()`.
  The base gives `present`, `cleanup` (a name in no zone is already clean), `zones`, `check` (a
  fresh zone listing: authenticated, changes nothing), `propagation`, `visibility_servers` ([] = the
  zone's authoritative servers), `client()` (one httpx client per provider object, from the `http`
  factory with `endpoint`), `zone_of(fqdn)`, `call(doing, method, url, ok=(), client=None, **kwargs)`
  (one request; a failure becomes `api_error` with secrets masked) and `scrub(text)`.
- `Zone(name, id)` and `relative(fqdn, zone)`: "" for the apex, else the labels below the zone.
- `ZONES`, a `ZoneCache`: zone lists per account fingerprint (a hash of the plugin, endpoint and
  credentials, so two provider objects of one account share it and no secret is kept as a key),
  kept `ZoneCache.ttl` seconds (300) across provider instances and threads; a name no cached
  zone contains reloads the list once it is a minute old (a zone added since).
- `longest_zone(fqdn, zones)`: the zone that is the longest suffix of `fqdn` (walking up its labels).
- `with_value(values, value)` / `without_value(values, value)`: the merged TXT set for providers
  that replace whole record sets (None when nothing changes), keeping every other value.
- `record_lock(key)`: one lock per account and name, so two values on one name in one process are
  read, merged and written one after the other.
- `ZoneNotFound` (an IntegrationError): no zone of the account contains the name.
- `api_error(...)`: provider HTTP failures as IntegrationError in plain words naming the provider
  (bad credentials, permission, zone not found, rate limited with Retry-After, 5xx after retries).
  The shared outbound client already retries 429 and 5xx, honouring Retry-After, before this.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from certvault.errors import IntegrationError, InvalidInput
from certvault.plugins.protocols import HttpClientFactory, NameServer, Propagation, SecretResolver

if TYPE_CHECKING:
    import httpx

MASK = "***"


class ZoneNotFound(IntegrationError):
    """No zone the account can edit contains the name."""


class HostedOptions(BaseModel):
    endpoint: str | None = Field(default=None, description="API base URL (sovereign cloud, proxy, tests); "
                                                           "default: the provider's own")
    propagation_timeout: float = Field(default=120.0, gt=0, le=3600,
                                       description="seconds to wait for the record on every name server")
    polling_interval: float = Field(default=2.0, gt=0, le=300, description="seconds between checks")
    ttl: int = Field(default=120, ge=1, le=86400, description="TTL of the TXT records, seconds")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return api_url(value)


def api_url(value: str | None) -> str | None:
    """An API base URL option: None when empty, else an http(s) URL with a host, without a trailing slash."""
    if value is None or not value.strip():
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an https:// URL with a host")
    return value.strip().rstrip("/")


@dataclass(frozen=True)
class Zone:
    name: str  # lower case, no trailing dot
    id: str  # what the provider's API calls it (Cloudflare's zone id; the name for the others)


def normal(name: str) -> str:
    return name.strip().rstrip(".").lower()


def relative(fqdn: str, zone: str) -> str:
    """`_acme-challenge.www` for `_acme-challenge.www.example.com` in `example.com`; "" at the apex."""
    fqdn, zone = normal(fqdn), normal(zone)
    return "" if fqdn == zone else fqdn[: -len(zone) - 1]


def longest_zone(fqdn: str, zones: Mapping[str, str]) -> Zone | None:
    """Walk up the labels of `fqdn`: the first (longest) suffix that is a zone, or None."""
    labels = normal(fqdn).split(".")
    for start in range(len(labels)):
        candidate = ".".join(labels[start:])
        if candidate in zones:
            return Zone(candidate, zones[candidate])
    return None


def with_value(values: Sequence[str], value: str) -> list[str] | None:
    """The set with `value` added (others kept, order kept), or None when it is there already."""
    return None if value in values else [*values, value]


def without_value(values: Sequence[str], value: str) -> list[str] | None:
    """The set without `value` (others kept), or None when it is not there."""
    return [v for v in values if v != value] if value in values else None


def fingerprint(*parts: object) -> str:
    """A stable key for an account's identity and credentials that reveals none of them."""
    digest = hashlib.sha256("\x00".join(str(p) for p in parts).encode()).hexdigest()
    return digest[:32]


class ZoneCache:
    """Zone lists per account key, each kept `ttl` seconds; one load at a time per key."""

    def __init__(self, ttl: float = 300.0, refresh_after: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.refresh_after, self._clock = ttl, refresh_after, clock
        self._entries: dict[str, tuple[float, dict[str, str]]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], Mapping[str, str]], *, fresh: bool = False) -> dict[str, str]:
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            entry = self._entries.get(key)
            if entry is not None and not fresh and self._clock() - entry[0] < self.ttl:
                return entry[1]
            zones = {normal(k): v for k, v in load().items()}
            self._entries[key] = (self._clock(), zones)
            return zones

    def age(self, key: str) -> float:
        entry = self._entries.get(key)
        return float("inf") if entry is None else self._clock() - entry[0]

    def forget(self, key: str | None = None) -> None:
        with self._lock:
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)


ZONES = ZoneCache()

_RECORD_LOCKS: dict[str, threading.Lock] = {}
_RECORD_LOCKS_GUARD = threading.Lock()


def record_lock(key: str) -> threading.Lock:
    with _RECORD_LOCKS_GUARD:
        if len(_RECORD_LOCKS) > 10_000:  # names come and go: drop the idle ones
            for name in [k for k, v in _RECORD_LOCKS.items() if not v.locked()]:
                del _RECORD_LOCKS[name]
        return _RECORD_LOCKS.setdefault(key, threading.Lock())


# ---- errors --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Hints:
    """Per provider: what to check for each kind of refusal."""

    credentials: str = "check the credentials"
    permission: str = "the credentials lack a permission"


def api_error(title: str, status: int, doing: str, *, detail: str = "", hints: Hints = Hints(),
              retry_after: float | None = None, retried: bool = False) -> IntegrationError:
    """One provider failure in plain words: `{title} <what happened> while {doing}: <what to do>`."""
    said = f" ({detail})" if detail else ""
    if status == 401:
        text = f"{title} rejected the credentials while {doing}{said}: {hints.credentials}"
    elif status == 403:
        text = f"{title} refused {doing} (HTTP 403){said}: {hints.permission}"
    elif status == 404:
        text = f"{title} found no such zone or record while {doing} (HTTP 404){said}"
    elif status == 429:
        wait = f"; it asks to wait {retry_after:g} s" if retry_after is not None else ""
        text = (f"{title} is rate limiting this account (HTTP 429) while {doing}{wait}; "
                "certvault retries later, or lower the account's pacing")
    elif status >= 500:
        tries = " after retries" if retried else ""
        text = f"{title} failed (HTTP {status}){tries} while {doing}{said}: the service has a problem; retry later"
    else:
        text = f"{title} refused {doing} (HTTP {status}){said}"
    return IntegrationError(text, provider=title, status=status, retry_after=retry_after)


# ---- the base class --------------------------------------------------------------------------------

class HostedProvider:
    name: ClassVar[str]
    title: ClassVar[str]
    secret_fields: ClassVar[tuple[str, ...]]
    Options: ClassVar[type[HostedOptions]] = HostedOptions
    default_endpoint: ClassVar[str]
    connection_defaults: ClassVar[Mapping[str, Any]] = {}
    hints: ClassVar[Hints] = Hints()

    def __init__(self, options: HostedOptions, secrets: SecretResolver, http: HttpClientFactory | None = None) -> None:
        if http is None:
            raise InvalidInput(f"{self.title}: the DNS account needs the outbound HTTPS client")
        self.options = options
        self._secrets = {field: secrets(field) for field in self.secret_fields}
        self._http = http
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()
        self.account_key = fingerprint(self.name, self.endpoint, *self.identity(), *sorted(self._secrets.items()))

    # ---- for subclasses --------------------------------------------------------------------------
    def identity(self) -> tuple[str, ...]:
        """The non-secret options that tell accounts apart (added to the cache key)."""
        return ()

    def headers(self) -> Mapping[str, str]:
        return {}

    def _load_zones(self) -> Mapping[str, str]:
        raise NotImplementedError

    def _add(self, zone: Zone, fqdn: str, value: str) -> None:
        raise NotImplementedError

    def _remove(self, zone: Zone, fqdn: str, value: str) -> None:
        raise NotImplementedError

    def error_detail(self, response: httpx.Response) -> str:
        """The provider's own words from an error body (subclasses parse their format)."""
        return ""

    def error_hints(self) -> Hints:
        """What to check, per kind of refusal (a plugin whose advice depends on its options overrides it)."""
        return self.hints

    def error_status(self, response: httpx.Response) -> int:
        """The status to word the error by (a provider answering 403 to bad credentials says 401 here)."""
        return response.status_code

    # ---- protocol --------------------------------------------------------------------------------
    def present(self, fqdn: str, value: str) -> None:
        self._add(self.zone_of(fqdn), normal(fqdn), value)

    def cleanup(self, fqdn: str, value: str) -> None:
        try:
            zone = self.zone_of(fqdn)
        except ZoneNotFound:
            return  # no zone holds it any more: nothing of ours is left
        self._remove(zone, normal(fqdn), value)

    def zones(self) -> list[str]:
        return sorted(ZONES.get(self.account_key, self._load_zones))

    def propagation(self) -> Propagation:
        return Propagation(timeout=self.options.propagation_timeout, interval=self.options.polling_interval)

    def visibility_servers(self, fqdn: str) -> list[NameServer]:
        return []

    def check(self) -> str:
        zones = sorted(ZONES.get(self.account_key, self._load_zones, fresh=True))
        shown = ", ".join(zones[:10]) + (f" and {len(zones) - 10} more" if len(zones) > 10 else "")
        return (f"{self.title} at {urlsplit(self.endpoint).hostname} accepted the credentials; "
                f"{len(zones)} zone{'' if len(zones) == 1 else 's'} editable" + (f": {shown}" if zones else ""))

    # ---- helpers ---------------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return self.options.endpoint or self.default_endpoint

    def zone_of(self, fqdn: str) -> Zone:
        zones = ZONES.get(self.account_key, self._load_zones)
        zone = longest_zone(fqdn, zones)
        if zone is None and ZONES.age(self.account_key) >= ZONES.refresh_after:
            zone = longest_zone(fqdn, ZONES.get(self.account_key, self._load_zones, fresh=True))
        if zone is None:
            raise ZoneNotFound(f"{self.title}: no zone these credentials can edit contains {normal(fqdn)} "
                           f"({len(zones)} zone{'' if len(zones) == 1 else 's'} found)")
        return zone

    def client(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                self._client = self._http(base_url=self.endpoint + "/", headers=self.headers())
            return self._client

    def call(self, doing: str, method: str, url: str, *, ok: Sequence[int] = (), client: httpx.Client | None = None,
             **kwargs: Any) -> httpx.Response:
        """One request (`url` relative to the endpoint, or to `client`'s base URL; httpx's keyword arguments);
        a non-2xx status not in `ok` becomes `api_error`, secrets masked."""
        try:
            response = (client or self.client()).request(method, url, **kwargs)
        except IntegrationError as exc:  # the outbound client's errors (retries exhausted, timeouts, TLS)
            status = exc.details.get("status")
            if isinstance(status, int):
                retry = exc.details.get("retry_after")
                raise self._error(status, doing, "", retry if isinstance(retry, int | float) else None,
                                  retried=True) from None
            raise IntegrationError(self.scrub(f"{self.title}: {exc.message} (while {doing})")) from None
        if response.is_success or response.status_code in ok:
            return response
        if response.status_code == 404:
            ZONES.forget(self.account_key)  # a zone deleted since it was listed: the next attempt lists again
        raise self._error(self.error_status(response), doing, self.error_detail(response),
                          _retry_after(response.headers.get("retry-after", "")))

    def _error(self, status: int, doing: str, detail: str, retry_after: float | None,
               retried: bool = False) -> IntegrationError:
        error = api_error(self.title, status, doing, detail=self.scrub(detail)[:300], hints=self.error_hints(),
                          retry_after=retry_after, retried=retried)
        error.message = self.scrub(error.message)
        error.args = (error.message,)
        return error

    def scrub(self, text: str) -> str:
        for value in self._secrets.values():
            if value and len(value) >= 4:
                text = text.replace(value, MASK)
        return text


def _retry_after(value: str) -> float | None:
    value = value.strip()
    return float(value) if value.isdigit() else None

"""Azure DNS (Azure Resource Manager, api-version 2018-05-01) with an application's client credentials
or the machine's managed identity.

A token comes from the cloud's authority (`POST {authority}/{tenant}/oauth2/v2.0/token`, client
credentials grant, scope `{management endpoint}/.default`), or with `managed_identity` from the
instance metadata service (`GET http://169.254.169.254/metadata/identity/oauth2/token`, `Metadata:
true`; `client_id` picks a user-assigned identity). It is kept until five minutes before it expires,
shared by every provider object of the account. A PUT of a TXT record set replaces it, so
present and cleanup read the set (with its ETag), merge, and write with `If-Match` (`If-None-Match: *`
when creating it); a 412 (another writer got there first) reads and merges again. The last value of
certvault's deletes the set, with `If-Match`, only when nothing else is left in it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import parse_qsl, quote, urlsplit

from pydantic import Field, field_validator, model_validator

from certvault.errors import IntegrationError, InvalidInput
from certvault.plugins.dns.hosted import (
    Hints,
    HostedOptions,
    HostedProvider,
    Zone,
    api_url,
    record_lock,
    relative,
    with_value,
    without_value,
)

if TYPE_CHECKING:
    import httpx

API_VERSION = "2018-05-01"
IMDS = "http://169.254.169.254/metadata/identity/oauth2/token"  # the instance metadata service of a VM
LOCAL_HOSTS = ("169.254.169.254", "127.0.0.1", "localhost", "::1")  # where plain http may go (the identity)
CLOUDS = {  # cloud -> (authority, management endpoint)
    "public": ("https://login.microsoftonline.com", "https://management.azure.com"),
    "china": ("https://login.chinacloudapi.cn", "https://management.chinacloudapi.cn"),
    "usgov": ("https://login.microsoftonline.us", "https://management.usgovcloudapi.net"),
}
CONFLICT_TRIES = 5
_TOKENS: dict[str, tuple[str, float]] = {}  # account key -> (access token, monotonic expiry)
_TOKENS_LOCK = threading.Lock()
BAD_TOKEN = ("InvalidAuthenticationToken", "ExpiredAuthenticationToken", "AuthenticationFailed")


class AzureOptions(HostedOptions):
    subscription_id: str = Field(min_length=1, max_length=64, description="subscription id")
    tenant_id: str | None = Field(default=None, max_length=128, description="directory (tenant) id")
    client_id: str | None = Field(default=None, max_length=128, description="application (client) id; with "
                                                                            "--managed-identity: a user-assigned "
                                                                            "identity's client id")
    resource_group: str = Field(min_length=1, max_length=90, description="resource group of the DNS zones")
    cloud: Literal["public", "china", "usgov"] = Field(default="public", description="public, china or usgov")
    authority_url: str | None = Field(default=None, description="token authority URL; default: the cloud's")
    managed_identity: bool = Field(default=False, description="get tokens from the machine's managed identity "
                                                              "instead of a client secret")
    identity_endpoint: str | None = Field(default=None, description="managed identity token URL; default: the "
                                                                    "VM's instance metadata service")
    ttl: int = Field(default=60, ge=1, le=2147483647, description="TTL of the TXT records, seconds")

    @field_validator("endpoint", "authority_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        url = api_url(value)
        if url is not None and not url.startswith("https://"):
            raise ValueError("must be an https:// URL (the token travels on it)")
        return url

    @field_validator("identity_endpoint")
    @classmethod
    def _identity(cls, value: str | None) -> str | None:
        url = api_url(value)
        if url is not None and url.startswith("http://") and urlsplit(url).hostname not in LOCAL_HOSTS:
            raise ValueError("plain http:// only to the machine itself (169.254.169.254 or loopback)")
        return url

    @model_validator(mode="after")
    def _who(self) -> AzureOptions:
        if not self.managed_identity and not (self.tenant_id and self.client_id):
            raise ValueError("--tenant-id and --client-id are required (with --client-secret) unless "
                             "--managed-identity")
        return self


class AzureProvider(HostedProvider):
    name: ClassVar[str] = "azure"
    title: ClassVar[str] = "Azure DNS"
    secret_fields: ClassVar[tuple[str, ...]] = ("client_secret",)
    required_secrets: ClassVar[tuple[str, ...]] = ()
    Options = AzureOptions
    default_endpoint: ClassVar[str] = CLOUDS["public"][1]
    # Azure Resource Manager throttles per subscription and answers 429 with Retry-After: 10 per second.
    # Plain http is allowed for the managed identity endpoint only (the options refuse it anywhere else).
    connection_defaults: ClassVar[Mapping[str, Any]] = {"pacing_requests": 20, "pacing_interval": 2.0,
                                                        "allow_plain_http": True}
    hints: ClassVar[Hints] = Hints(
        credentials="check the tenant id, the application (client) id and its client secret (secrets expire)",
        permission="give the application the DNS Zone Contributor role on the zone or resource group")
    options: AzureOptions

    @property
    def endpoint(self) -> str:
        return self.options.endpoint or CLOUDS[self.options.cloud][1]

    @property
    def authority(self) -> str:
        return self.options.authority_url or CLOUDS[self.options.cloud][0]

    def error_hints(self) -> Hints:
        if not self.options.managed_identity:
            return self.hints
        return Hints(credentials="check that this machine has a managed identity (and that --client-id, if given, "
                                 "names a user-assigned identity attached to it)", permission=self.hints.permission)

    @staticmethod
    def validate_secrets(options: AzureOptions, secrets: Mapping[str, str]) -> None:
        if not options.managed_identity and not secrets.get("client_secret"):
            raise InvalidInput("Azure DNS: --client-secret is required unless --managed-identity")

    def identity(self) -> tuple[str, ...]:
        o = self.options
        return (o.subscription_id, o.tenant_id or "", o.client_id or "", o.resource_group, self.authority,
                str(o.managed_identity), o.identity_endpoint or "")

    # ---- the token -----------------------------------------------------------------------------
    def token(self, *, fresh: bool = False) -> str:
        with _TOKENS_LOCK:
            held = _TOKENS.get(self.account_key)
            if held is not None and not fresh and held[1] > time.monotonic():
                return held[0]
        body = self._identity_token() if self.options.managed_identity else self._client_token()
        token, lifetime = str(body.get("access_token", "")), float(body.get("expires_in", 3599))
        if not token:
            raise IntegrationError(f"{self.title}: the token endpoint gave no access token")
        with _TOKENS_LOCK:
            _TOKENS[self.account_key] = (token, time.monotonic() + max(60.0, lifetime - 300))
        return token

    def _client_token(self) -> dict[str, Any]:
        """Client credentials at the directory (OAuth 2.0 v2.0 endpoint)."""
        form = {"grant_type": "client_credentials", "client_id": self.options.client_id or "",
                "client_secret": self._secrets["client_secret"], "scope": f"{CLOUDS[self.options.cloud][1]}/.default"}
        with self._http(base_url=self.authority + "/") as client:
            url = f"{quote(self.options.tenant_id or '', safe='')}/oauth2/v2.0/token"
            body: dict[str, Any] = self.call("getting a token from the directory", "POST", url, data=form,
                                             client=client).json()
        return body

    def _identity_token(self) -> dict[str, Any]:
        """The managed identity's token from the instance metadata service (a GET with `Metadata: true`)."""
        params = {"api-version": "2018-02-01", "resource": f"{CLOUDS[self.options.cloud][1]}/"}
        if self.options.client_id:
            params["client_id"] = self.options.client_id
        url = self.options.identity_endpoint or IMDS
        with self._http(base_url="") as client:
            body: dict[str, Any] = self.call("getting a token from the managed identity endpoint", "GET", url,
                                             params=params, headers={"Metadata": "true"}, client=client).json()
        return body

    def arm(self, doing: str, method: str, url: str, *, ok: tuple[int, ...] = (), **kwargs: Any) -> httpx.Response:
        """One Resource Manager call with the bearer token (fetched again once if it was refused)."""
        extra = dict(kwargs.pop("headers", {}))
        params = {"api-version": API_VERSION, **kwargs.pop("params", {})}
        for fresh in (False, True):
            headers = {**extra, "Authorization": f"Bearer {self.token(fresh=fresh)}"}
            response = self.call(doing, method, url, ok=(*ok, 401), headers=headers, params=params, **kwargs)
            if response.status_code != 401 or 401 in ok:
                return response
            if fresh or _code(response) not in BAD_TOKEN:
                break
        raise self._error(401, doing, self.error_detail(response), None)

    # ---- API -----------------------------------------------------------------------------------
    def _group(self) -> str:
        o = self.options
        return (f"subscriptions/{quote(o.subscription_id, safe='')}/resourceGroups/{quote(o.resource_group, safe='')}"
                "/providers/Microsoft.Network/dnsZones")

    def _load_zones(self) -> dict[str, str]:
        zones: dict[str, str] = {}
        url, params = self._group(), dict[str, str]()
        while url:
            body = self.arm("listing the DNS zones of the resource group", "GET", url, params=params).json()
            zones.update({z["name"]: z["name"] for z in body.get("value") or []})
            url, params = _next_link(body.get("nextLink"), self.endpoint)
        return zones

    def _set_url(self, zone: Zone, fqdn: str) -> str:
        return f"{self._group()}/{quote(zone.id, safe='')}/TXT/{quote(relative(fqdn, zone.name) or '@', safe='')}"

    def _read(self, zone: Zone, fqdn: str) -> tuple[list[str], str | None, dict[str, Any]]:
        """The set's values (one string per TXT record), its ETag (None: no set) and the rest of it."""
        response = self.arm(f"reading the TXT record set {fqdn}", "GET", self._set_url(zone, fqdn), ok=(404,))
        if response.status_code == 404:
            return [], None, {}
        body = response.json()
        props = body.get("properties") or {}
        values = ["".join(r.get("value") or []) for r in props.get("TXTRecords") or []]
        return values, body.get("etag") or response.headers.get("etag"), props

    def _add(self, zone: Zone, fqdn: str, value: str) -> None:
        self._merge(zone, fqdn, value, adding=True)

    def _remove(self, zone: Zone, fqdn: str, value: str) -> None:
        self._merge(zone, fqdn, value, adding=False)

    def _merge(self, zone: Zone, fqdn: str, value: str, *, adding: bool) -> None:
        doing = f"{'adding' if adding else 'removing'} the TXT record {fqdn}"
        with record_lock(f"{self.account_key}:{fqdn}"):
            for _ in range(CONFLICT_TRIES):
                values, etag, props = self._read(zone, fqdn)
                changed = with_value(values, value) if adding else without_value(values, value)
                if changed is None:
                    return
                guard = {"If-Match": etag} if etag else {"If-None-Match": "*"}
                if changed:
                    body = {"properties": {**_kept(props), "TTL": props.get("TTL", self.options.ttl),
                                           "TXTRecords": [{"value": _chunks(v)} for v in changed]}}
                    response = self.arm(doing, "PUT", self._set_url(zone, fqdn), json=body, headers=guard, ok=(412,))
                else:
                    response = self.arm(doing, "DELETE", self._set_url(zone, fqdn), headers=guard, ok=(412,))
                if response.status_code != 412:
                    return
        raise IntegrationError(f"{self.title}: the TXT record set {fqdn} kept changing under certvault "
                               f"({CONFLICT_TRIES} tries, each refused with HTTP 412) while {doing}")

    # ---- errors --------------------------------------------------------------------------------
    def error_detail(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return ""
        if not isinstance(body, dict):
            return ""
        if "error_description" in body:  # the directory (OAuth 2.0)
            return f"{body.get('error')}: {str(body['error_description']).splitlines()[0]}"
        error = body.get("error") or {}
        return f"{error.get('code')}: {error.get('message')}" if isinstance(error, dict) else ""

    def error_status(self, response: httpx.Response) -> int:
        try:
            body = response.json()
        except ValueError:
            return response.status_code
        if isinstance(body, dict) and body.get("error") in ("invalid_client", "unauthorized_client",
                                                             "invalid_request", "invalid_grant"):
            return 401  # the directory answers 400 or 401 to unknown tenants, clients and secrets
        return response.status_code


def _code(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return ""
    return str(error.get("code", "")) if isinstance(error, dict) else ""


def _kept(props: Mapping[str, Any]) -> dict[str, Any]:
    """What a PUT must carry over from the set it replaces (its metadata)."""
    return {"metadata": props["metadata"]} if props.get("metadata") else {}


def _chunks(value: str) -> list[str]:
    """A TXT record's strings: at most 255 characters each (an ACME value is 43)."""
    return [value[i:i + 255] for i in range(0, len(value), 255)] or [""]


def _next_link(link: object, endpoint: str) -> tuple[str, dict[str, str]]:
    """nextLink is absolute; the client's base URL is the endpoint, so keep the path and query."""
    if not isinstance(link, str) or not link:
        return "", {}
    parts = urlsplit(link)
    base_path = urlsplit(endpoint).path.rstrip("/")
    path = parts.path[len(base_path):] if base_path and parts.path.startswith(base_path) else parts.path
    return path.lstrip("/"), dict(parse_qsl(parts.query))

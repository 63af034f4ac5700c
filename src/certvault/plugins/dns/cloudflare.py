"""Cloudflare DNS (API v4): an API token (Zone:Read + DNS:Edit) or the account email + Global API key.

TXT records are created one by one (append semantics): present adds a record, cleanup deletes the
records of this name whose content is exactly our value. Zones come from `GET /zones`, paged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from certvault.errors import InvalidInput
from certvault.plugins.dns.hosted import Hints, HostedOptions, HostedProvider, Zone

if TYPE_CHECKING:
    import httpx

DUPLICATE = 81058  # "An identical record already exists."
BAD_CREDENTIALS = {1000, 6003, 6111, 9103, 9106, 9109}  # invalid token, malformed/unknown key or email
PAGE = 50  # the largest page GET /zones gives


class CloudflareOptions(HostedOptions):
    email: str | None = Field(default=None, description="account email, with --api-key (the Global API key)")
    ttl: int = Field(default=120, ge=60, le=86400, description="TTL of the TXT records, seconds (min 120, 60 on "
                                                               "Enterprise)")


class CloudflareProvider(HostedProvider):
    name: ClassVar[str] = "cloudflare"
    title: ClassVar[str] = "Cloudflare"
    secret_fields: ClassVar[tuple[str, ...]] = ("api_token", "api_key")
    required_secrets: ClassVar[tuple[str, ...]] = ()
    Options = CloudflareOptions
    default_endpoint: ClassVar[str] = "https://api.cloudflare.com/client/v4"
    # 1,200 requests per 5 minutes per user: a burst of 50 then 50 per 15 s stays at 1,050 in any 5 minutes
    connection_defaults: ClassVar[Mapping[str, Any]] = {"pacing_requests": 50, "pacing_interval": 15.0}
    hints: ClassVar[Hints] = Hints(
        credentials="check the API token (or the email and Global API key; an Origin CA key does not work)",
        permission="the token needs Zone:Read and DNS:Edit on this zone")
    options: CloudflareOptions

    @staticmethod
    def validate_secrets(options: CloudflareOptions, secrets: Mapping[str, str]) -> None:
        token, key = secrets.get("api_token"), secrets.get("api_key")
        if bool(token) == bool(key):
            raise InvalidInput("Cloudflare: give either --api-token, or --email with --api-key (the Global API key)")
        if key and not options.email:
            raise InvalidInput("Cloudflare: --api-key (the Global API key) needs --email")

    def identity(self) -> tuple[str, ...]:
        return (self.options.email or "",)

    def headers(self) -> Mapping[str, str]:
        if self._secrets.get("api_token"):
            return {"Authorization": f"Bearer {self._secrets['api_token']}"}
        return {"X-Auth-Email": self.options.email or "", "X-Auth-Key": self._secrets.get("api_key", "")}

    # ---- API ---------------------------------------------------------------------------------------
    def _load_zones(self) -> dict[str, str]:
        zones: dict[str, str] = {}
        page, pages = 1, 1
        while page <= pages:
            body = self.call("listing zones", "GET", "zones", params={"page": page, "per_page": PAGE}).json()
            zones.update({z["name"]: z["id"] for z in body.get("result") or []})
            pages = int((body.get("result_info") or {}).get("total_pages") or 1)
            page += 1
        return zones

    def _add(self, zone: Zone, fqdn: str, value: str) -> None:
        record = {"type": "TXT", "name": fqdn, "content": value, "ttl": self.options.ttl}
        response = self.call(f"adding the TXT record {fqdn}", "POST", f"zones/{zone.id}/dns_records", json=record,
                             ok=(400,))
        if response.status_code == 400 and DUPLICATE not in _codes(response):
            raise self._error(400, f"adding the TXT record {fqdn}", self.error_detail(response), None)

    def _remove(self, zone: Zone, fqdn: str, value: str) -> None:
        for record_id in self._records(zone, fqdn, value):
            self.call(f"removing the TXT record {fqdn}", "DELETE", f"zones/{zone.id}/dns_records/{record_id}",
                      ok=(404,))

    def _records(self, zone: Zone, fqdn: str, value: str) -> list[str]:
        body = self.call(f"reading the TXT records of {fqdn}", "GET", f"zones/{zone.id}/dns_records",
                         params={"type": "TXT", "name": fqdn, "per_page": 100}).json()
        return [r["id"] for r in body.get("result") or [] if _unquoted(r.get("content", "")) == value]

    # ---- errors ------------------------------------------------------------------------------------
    def error_detail(self, response: httpx.Response) -> str:
        try:
            errors = response.json().get("errors") or []
        except ValueError:
            return ""
        return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict))

    def error_status(self, response: httpx.Response) -> int:
        if response.status_code in (400, 403) and BAD_CREDENTIALS & set(_codes(response)):
            return 401
        return response.status_code


def _codes(response: httpx.Response) -> list[int]:
    try:
        return [int(e.get("code", 0)) for e in response.json().get("errors") or [] if isinstance(e, dict)]
    except (ValueError, AttributeError, TypeError):
        return []


def _unquoted(content: str) -> str:
    """Cloudflare may give TXT content back in quotes; compare the bare value."""
    return content[1:-1] if len(content) >= 2 and content[0] == content[-1] == '"' else content

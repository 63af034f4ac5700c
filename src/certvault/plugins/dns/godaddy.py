"""GoDaddy DNS (Domains API v1): an API key and secret, production or OTE (GoDaddy's test environment).

A PUT of /v1/domains/{domain}/records/TXT/{name} replaces every TXT value of that name, so present and
cleanup read, merge and write, one at a time per name in this process; the last value of certvault's
goes with a DELETE of the set only when nothing else is left in it. Since 2024 GoDaddy refuses the API
(HTTP 403) to accounts with fewer than 10 domains and no Discount Domain Club plan: the error says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from certvault.plugins.dns.hosted import (
    Hints,
    HostedOptions,
    HostedProvider,
    Zone,
    record_lock,
    relative,
    with_value,
    without_value,
)

if TYPE_CHECKING:
    import httpx

PRODUCTION = "https://api.godaddy.com"
OTE = "https://api.ote-godaddy.com"
PAGE = 1000


class GoDaddyOptions(HostedOptions):
    ote: bool = Field(default=False, description="use GoDaddy's OTE test environment (api.ote-godaddy.com)")
    ttl: int = Field(default=600, ge=600, le=604800, description="TTL of the TXT records, seconds (GoDaddy's "
                                                                 "minimum is 600)")
    propagation_timeout: float = Field(default=600.0, gt=0, le=3600,
                                       description="seconds to wait for the record on every name server")
    polling_interval: float = Field(default=10.0, gt=0, le=300, description="seconds between checks")


class GoDaddyProvider(HostedProvider):
    name: ClassVar[str] = "godaddy"
    title: ClassVar[str] = "GoDaddy"
    secret_fields: ClassVar[tuple[str, ...]] = ("api_key", "api_secret")
    Options = GoDaddyOptions
    default_endpoint: ClassVar[str] = PRODUCTION
    # 60 requests per minute: a burst of 5 then 5 per 6 s stays at 55 in any minute
    connection_defaults: ClassVar[Mapping[str, Any]] = {"pacing_requests": 5, "pacing_interval": 6.0}
    hints: ClassVar[Hints] = Hints(
        credentials="check the API key and secret (and --ote: OTE keys work only against OTE, production keys "
                    "only against production)",
        permission="GoDaddy lets only accounts with 10 or more domains (or a Discount Domain Club plan) use its "
                   "DNS API; this account is not allowed. Delegate _acme-challenge with a CNAME to another "
                   "provider (acme-dns, for example) or move the zone's DNS")
    options: GoDaddyOptions

    @property
    def endpoint(self) -> str:
        return self.options.endpoint or (OTE if self.options.ote else PRODUCTION)

    def identity(self) -> tuple[str, ...]:
        return (str(self.options.ote),)

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"sso-key {self._secrets['api_key']}:{self._secrets['api_secret']}"}

    # ---- API ---------------------------------------------------------------------------------------
    def _load_zones(self) -> dict[str, str]:
        zones: dict[str, str] = {}
        marker = ""
        while True:
            params = {"statuses": "ACTIVE", "limit": PAGE, **({"marker": marker} if marker else {})}
            rows = self.call("listing domains", "GET", "v1/domains", params=params).json() or []
            zones.update({row["domain"]: row["domain"] for row in rows})
            if len(rows) < PAGE:
                return zones
            marker = rows[-1]["domain"]

    def _add(self, zone: Zone, fqdn: str, value: str) -> None:
        with record_lock(f"{self.account_key}:{fqdn}"):
            merged = with_value(self._values(zone, fqdn), value)
            if merged is not None:
                self._write(zone, fqdn, merged)

    def _remove(self, zone: Zone, fqdn: str, value: str) -> None:
        with record_lock(f"{self.account_key}:{fqdn}"):
            left = without_value(self._values(zone, fqdn), value)
            if left is None:
                return
            if left:
                self._write(zone, fqdn, left)
            else:
                self.call(f"removing the TXT record {fqdn}", "DELETE", self._path(zone, fqdn), ok=(404,))

    def _values(self, zone: Zone, fqdn: str) -> list[str]:
        response = self.call(f"reading the TXT records of {fqdn}", "GET", self._path(zone, fqdn))
        return [str(row.get("data", "")) for row in response.json() or []]

    def _write(self, zone: Zone, fqdn: str, values: list[str]) -> None:
        body = [{"data": v, "ttl": self.options.ttl} for v in values]
        self.call(f"writing the TXT records of {fqdn}", "PUT", self._path(zone, fqdn), json=body)

    @staticmethod
    def _path(zone: Zone, fqdn: str) -> str:
        return f"v1/domains/{zone.id}/records/TXT/{relative(fqdn, zone.name) or '@'}"

    def error_detail(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return ""
        if not isinstance(body, dict):
            return ""
        return ": ".join(str(body[k]) for k in ("code", "message") if body.get(k))

"""ClouDNS (api.cloudns.net): an auth id, a sub-auth id or a sub-auth user, with its password.

Every call is a POST whose form carries the credentials (never the URL, so they reach no log), and
ClouDNS answers HTTP 200 with `{"status": "Failed", "statusDescription": ...}` for most refusals: those
are worded like any provider error. TXT records are added one by one (append semantics) and deleted by
id. After adding, present waits until `update-status.json` says every ClouDNS name server has the
change (otherwise a CA checking a secondary may not see it yet), within `propagation_timeout`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator

from certvault.errors import IntegrationError, InvalidInput
from certvault.plugins.dns.hosted import Hints, HostedOptions, HostedProvider, Zone, relative

if TYPE_CHECKING:
    import httpx

TTLS = (60, 300, 900, 1800, 3600, 21600, 43200, 86400, 172800, 259200, 604800, 1209600, 2592000)
PAGE = 100


class ClouDNSOptions(HostedOptions):
    auth_id: str | None = Field(default=None, max_length=32, description="API user id (auth-id)")
    sub_auth_id: str | None = Field(default=None, max_length=32, description="API sub-user id (sub-auth-id)")
    sub_auth_user: str | None = Field(default=None, max_length=128, description="API sub-user name "
                                                                                 "(sub-auth-user)")
    ttl: int = Field(default=60, description="TTL of the TXT records: 60, 300, 900, 1800, 3600 or more")
    propagation_timeout: float = Field(default=180.0, gt=0, le=3600,
                                       description="seconds to wait for the record on every name server")
    polling_interval: float = Field(default=10.0, gt=0, le=300, description="seconds between checks")

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, value: int) -> int:
        if value not in TTLS:
            raise ValueError(f"ClouDNS takes one of {', '.join(map(str, TTLS))}")
        return value


class ClouDNSProvider(HostedProvider):
    name: ClassVar[str] = "cloudns"
    title: ClassVar[str] = "ClouDNS"
    secret_fields: ClassVar[tuple[str, ...]] = ("auth_password",)
    Options = ClouDNSOptions
    default_endpoint: ClassVar[str] = "https://api.cloudns.net"
    connection_defaults: ClassVar[Mapping[str, Any]] = {"pacing_requests": 10, "pacing_interval": 1.0}
    hints: ClassVar[Hints] = Hints(
        credentials="check the auth id (or sub-auth id / sub-auth user) and its password, and that the API user "
                    "allows this address",
        permission="the API sub-user is not delegated this zone")
    options: ClouDNSOptions

    @staticmethod
    def validate_secrets(options: ClouDNSOptions, _secrets: Mapping[str, str]) -> None:
        given = [f for f in ("auth_id", "sub_auth_id", "sub_auth_user") if getattr(options, f)]
        if len(given) != 1:
            raise InvalidInput("ClouDNS: give exactly one of --auth-id, --sub-auth-id or --sub-auth-user "
                               "(with --auth-password)")

    def identity(self) -> tuple[str, ...]:
        o = self.options
        return o.auth_id or "", o.sub_auth_id or "", o.sub_auth_user or ""

    def _auth(self) -> dict[str, str]:
        o = self.options
        who = ({"auth-id": o.auth_id} if o.auth_id else {"sub-auth-id": o.sub_auth_id} if o.sub_auth_id
               else {"sub-auth-user": o.sub_auth_user or ""})
        return {**{k: v for k, v in who.items() if v}, "auth-password": self._secrets["auth_password"]}

    def api(self, doing: str, method: str, **form: Any) -> Any:
        """POST dns/<method>.json with the credentials in the form; a "Failed" answer raises in plain words."""
        response = self.call(doing, "POST", f"dns/{method}.json", data={**self._auth(), **form})
        body = response.json()
        if isinstance(body, dict) and str(body.get("status", "")).lower() == "failed":
            said = str(body.get("statusDescription", ""))
            raise self._error(_status_of(said), doing, said, None)
        return body

    # ---- API -----------------------------------------------------------------------------------
    def _load_zones(self) -> dict[str, str]:
        zones: dict[str, str] = {}
        page = 1
        while True:
            rows = self.api("listing zones", "list-zones", page=page, **{"rows-per-page": PAGE})
            rows = rows if isinstance(rows, list) else []
            zones.update({r["name"]: r["name"] for r in rows if isinstance(r, dict) and r.get("type") != "parked"})
            if len(rows) < PAGE:
                return zones
            page += 1

    def _records(self, zone: Zone, fqdn: str) -> dict[str, str]:
        """Record id -> value of the TXT records of `fqdn`."""
        rows = self.api(f"reading the TXT records of {fqdn}", "records", **{
            "domain-name": zone.id, "host": relative(fqdn, zone.name), "type": "TXT"})
        rows = rows.values() if isinstance(rows, dict) else []  # ClouDNS gives [] for none, else {id: record}
        return {str(r["id"]): str(r.get("record", "")) for r in rows if isinstance(r, dict)}

    def _add(self, zone: Zone, fqdn: str, value: str) -> None:
        if value not in self._records(zone, fqdn).values():
            self.api(f"adding the TXT record {fqdn}", "add-record", **{
                "domain-name": zone.id, "record-type": "TXT", "host": relative(fqdn, zone.name), "record": value,
                "ttl": self.options.ttl})
        self._wait_until_updated(zone, fqdn)

    def _remove(self, zone: Zone, fqdn: str, value: str) -> None:
        for record_id, held in self._records(zone, fqdn).items():
            if held == value:
                self.api(f"removing the TXT record {fqdn}", "delete-record", **{
                    "domain-name": zone.id, "record-id": record_id})

    def _wait_until_updated(self, zone: Zone, fqdn: str) -> None:
        deadline = time.monotonic() + self.options.propagation_timeout
        while True:
            servers = self.api(f"checking that the name servers of {zone.name} have {fqdn}", "update-status",
                               **{"domain-name": zone.id})
            pending = [s.get("server", "?") for s in servers if isinstance(s, dict) and not s.get("updated")] \
                if isinstance(servers, list) else []
            if not pending:
                return
            if time.monotonic() >= deadline:
                raise IntegrationError(f"{self.title}: {len(pending)} name server(s) of {zone.name} did not take "
                                       f"the change within {self.options.propagation_timeout:g} s "
                                       f"({', '.join(map(str, pending[:3]))})")
            time.sleep(self.options.polling_interval)

    def error_detail(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return ""
        return str(body.get("statusDescription", "")) if isinstance(body, dict) else ""


def _status_of(description: str) -> int:
    """ClouDNS's words as the HTTP status a provider error is worded by."""
    text = description.lower()
    if "auth" in text and ("invalid" in text or "incorrect" in text):
        return 401
    if "not found" in text or "missing domain" in text or "don't have" in text or "not exist" in text:
        return 404
    if "permission" in text or "not allowed" in text or "delegat" in text:
        return 403
    if "too many" in text or "limit" in text:
        return 429
    return 400

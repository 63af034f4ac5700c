"""A stateful fake of the ClouDNS API (https://api.cloudns.net/dns/*.json), over HTTPS on 127.0.0.1.

    fake = ClouDNSFake(tls, auth_ids={"1234": "pw"}, sub_auth_ids={"55": ("pw", {"example.com"})},
                       sub_auth_users={"acme": ("pw", None)}, sync_polls=2, write_through=None).start()
    fake.add_zone("example.com"); fake.url  # -> the account's endpoint

- Credentials in the query or the form, as ClouDNS takes them: `auth-id`, `sub-auth-id` or
  `sub-auth-user`, each with `auth-password`. A sub-user maps to the zones delegated to it (None = all).
- Refusals are HTTP 200 with `{"status": "Failed", "statusDescription": ...}`, as ClouDNS answers:
  "Invalid authentication, incorrect auth-id or auth-password.", "Missing domain-name" and for an
  unknown or undelegated zone "Domain name not found" / "You don't have access to this zone".
- `login.json`, `list-zones.json` (page, rows-per-page), `get-zone-info.json`, `records.json`
  (domain-name, host, type: {} of id -> record, [] when none), `add-record.json` (append: each
  value its own record; an identical one is refused), `delete-record.json` (record-id),
  `update-status.json` (one entry per name server, `updated` false for the next `sync_polls` polls
  after a change of the zone) and `is-updated.json`.
- Everything else as FakeDNSAPI (tests/servers/hosted_dns.py).
"""

from __future__ import annotations

from typing import Any

from tests.servers.hosted_dns import FakeDNSAPI, Reply, Request, WriteThrough
from tests.servers.test_ca import LoopbackTLS

SERVERS = ("ns1.cloudns.net", "ns2.cloudns.net", "ns3.cloudns.net", "ns4.cloudns.net")
BAD_AUTH = "Invalid authentication, incorrect auth-id or auth-password."


def _failed(text: str) -> Reply:
    return Reply(200, {"status": "Failed", "statusDescription": text})


def _success(text: str, **data: Any) -> Reply:
    return Reply(200, {"status": "Success", "statusDescription": text, **({"data": data} if data else {})})


class ClouDNSFake(FakeDNSAPI):
    prefix = ""

    def __init__(self, tls: LoopbackTLS, *, auth_ids: dict[str, str] | None = None,
                 sub_auth_ids: dict[str, tuple[str, set[str] | None]] | None = None,
                 sub_auth_users: dict[str, tuple[str, set[str] | None]] | None = None, sync_polls: int = 2,
                 write_through: WriteThrough | None = None, limit: tuple[int, float] | None = None) -> None:
        super().__init__(tls, write_through=write_through, limit=limit)
        self.auth_ids = auth_ids or {}
        self.sub_auth_ids = sub_auth_ids or {}
        self.sub_auth_users = sub_auth_users or {}
        self.sync_polls = sync_polls
        self.pending: dict[str, int] = {}  # zone -> polls of update-status still answering "not updated"

    def error_body(self, status: int) -> Any:
        return {"status": "Failed", "statusDescription": f"HTTP {status}"}

    def changed(self, fqdn: str, type: str) -> None:  # noqa: A002
        zone = self.zone_of(fqdn)
        if zone is not None:
            self.pending[zone] = self.sync_polls
        super().changed(fqdn, type)

    def _who(self, form: dict[str, str]) -> tuple[bool, set[str] | None]:
        password = form.get("auth-password", "")
        if "auth-id" in form:
            return bool(password) and self.auth_ids.get(form["auth-id"]) == password, None
        for key, table in (("sub-auth-id", self.sub_auth_ids), ("sub-auth-user", self.sub_auth_users)):
            if key in form:
                held = table.get(form[key])
                return held is not None and bool(password) and held[0] == password, held[1] if held else None
        return False, None

    def handle(self, request: Request) -> Reply:
        parts = request.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "dns" or not parts[1].endswith(".json"):
            return Reply(404, {"status": "Failed", "statusDescription": "Not found"})
        form = request.form()
        ok, allowed = self._who(form)
        if not ok:
            return _failed(BAD_AUTH)
        method = parts[1].removesuffix(".json")
        if method == "login":
            return _success("Success login.")
        if method == "list-zones":
            return self._list(form, allowed)
        domain = form.get("domain-name", "").lower()
        if not domain:
            return _failed("Missing domain-name")
        if domain not in self.zones:
            return _failed("Domain name not found")
        if allowed is not None and domain not in allowed:
            return _failed("You don't have access to this zone")
        return self._zone_call(method, domain, form)

    def _list(self, form: dict[str, str], allowed: set[str] | None) -> Reply:
        rows = int(form.get("rows-per-page", 0) or 0)
        if rows not in (10, 20, 30, 50, 100):
            return _failed("Invalid rows-per-page")
        page = max(1, int(form.get("page", 1) or 1))
        names = [n for n in sorted(self.zones) if allowed is None or n in allowed]
        return Reply(200, [{"name": n, "type": "master", "zone": "domain", "status": "1"}
                           for n in names[(page - 1) * rows: page * rows]])

    def _zone_call(self, method: str, domain: str, form: dict[str, str]) -> Reply:
        if method == "get-zone-info":
            return Reply(200, {"name": domain, "type": "master", "zone": "domain", "status": "1"})
        if method == "update-status":
            left = self.pending.get(domain, 0)
            if left:
                self.pending[domain] = left - 1
            return Reply(200, [{"server": s, "ip4": f"192.0.2.{i + 1}", "ip6": "", "updated": not left or i == 0}
                               for i, s in enumerate(SERVERS)])
        if method == "is-updated":
            return Reply(200, not self.pending.get(domain, 0))
        host = form.get("host", "").lower()
        fqdn = f"{host}.{domain}" if host else domain
        if method == "records":
            rows = {r.id: {"id": r.id, "type": r.type, "host": host, "record": r.value, "ttl": str(r.ttl),
                           "status": 1} for r in self.zones[domain]
                    if (not form.get("host") and "host" not in form or r.name == fqdn)
                    and form.get("type", r.type) == r.type}
            return Reply(200, rows or [])
        if method == "add-record":
            return self._add(domain, fqdn, form)
        if method == "delete-record":
            found = [r for r in self.zones[domain] if r.id == form.get("record-id")]
            if not found:
                return _failed("Invalid record-id param.")
            self.remove(found[0])
            return _success("The record was deleted successfully.")
        return Reply(404, {"status": "Failed", "statusDescription": f"Unknown method {method}"})

    def _add(self, domain: str, fqdn: str, form: dict[str, str]) -> Reply:
        rtype, value, ttl = form.get("record-type", ""), form.get("record"), int(form.get("ttl", 0) or 0)
        if rtype != "TXT" or value is None:
            return _failed("Invalid record-type or record.")
        if ttl not in (60, 300, 900, 1800, 3600, 21600, 43200, 86400, 172800, 259200, 604800, 1209600, 2592000):
            return _failed("Invalid TTL. Choose from the list of the values we support.")
        if any(r.name == fqdn and r.type == rtype and r.value == value for r in self.zones[domain]):
            return _failed("The record already exists.")
        record = self.add_record(fqdn, value, rtype, ttl, zone=domain)
        return _success("The record was added successfully.", id=record.id)

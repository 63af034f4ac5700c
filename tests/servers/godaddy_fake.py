"""A stateful fake of GoDaddy's Domains API v1 (domains and DNS records), over HTTPS on 127.0.0.1.

    fake = GoDaddyFake(tls, keys={"KEY": "SECRET"}, api_allowed=True, write_through=None,
                       limit=(60, 60)).start()
    fake.add_zone("example.com"); fake.url  # -> the account's endpoint

- Auth: `Authorization: sso-key KEY:SECRET`; unknown: 401 UNABLE_TO_AUTHENTICATE. With
  `api_allowed=False` every call of a known key answers 403 ACCESS_DENIED, as GoDaddy does for
  accounts with fewer than 10 domains since 2024.
- `GET /v1/domains` (statuses, limit, marker: the domains after it, sorted).
- `GET /v1/domains/{domain}/records/TXT/{name}` ([] when none), `PUT` of the same path REPLACES every
  TXT value of the name (a non-empty list of {data, ttl >= 600}, else 422), `DELETE` removes them all
  (404 NOT_FOUND when there are none). `name` is relative, `@` for the apex. Unknown domain: 404
  UNKNOWN_DOMAIN.
- 429 bodies carry retryAfterSec as GoDaddy's do; everything else as FakeDNSAPI (hosted_dns.py).
"""

from __future__ import annotations

from typing import Any

from tests.servers.hosted_dns import FakeDNSAPI, Reply, Request, WriteThrough
from tests.servers.test_ca import LoopbackTLS

LIMIT = (60, 60.0)


def _error(status: int, code: str, message: str, **extra: Any) -> Reply:
    return Reply(status, {"code": code, "message": message, **extra})


class GoDaddyFake(FakeDNSAPI):
    def __init__(self, tls: LoopbackTLS, *, keys: dict[str, str] | None = None, api_allowed: bool = True,
                 write_through: WriteThrough | None = None, limit: tuple[int, float] | bool | None = None) -> None:
        super().__init__(tls, write_through=write_through, limit=LIMIT if limit is True else limit or None)
        self.keys = keys or {}
        self.api_allowed = api_allowed

    def error_body(self, status: int) -> Any:
        if status == 429:
            return {"code": "TOO_MANY_REQUESTS", "message": "Too many requests received within interval",
                    "retryAfterSec": 1}
        return {"code": "INTERNAL_SERVER_ERROR" if status >= 500 else "ERROR", "message": f"HTTP {status}"}

    def handle(self, request: Request) -> Reply:
        scheme, _, pair = request.headers.get("authorization", "").partition(" ")
        key, _, secret = pair.partition(":")
        if scheme != "sso-key" or self.keys.get(key) != secret or not secret:
            return _error(401, "UNABLE_TO_AUTHENTICATE", "Unable to authenticate user")
        if not self.api_allowed:
            return _error(403, "ACCESS_DENIED", "Authenticated user is not allowed access")
        parts = request.path.strip("/").split("/")
        if parts == ["v1", "domains"] and request.method == "GET":
            return self._domains(request)
        if len(parts) == 6 and parts[:2] == ["v1", "domains"] and parts[3:5] == ["records", "TXT"]:
            domain = parts[2].lower()
            if domain not in self.zones:
                return _error(404, "UNKNOWN_DOMAIN", "The given domain is not registered, or does not have a "
                                                     "zone file")
            fqdn = domain if parts[5] == "@" else f"{parts[5].lower()}.{domain}"
            return self._txt(request, domain, fqdn)
        return _error(404, "NOT_FOUND", "Not found")

    def _domains(self, request: Request) -> Reply:
        limit = int(request.query.get("limit", 500))
        marker = request.query.get("marker", "")
        names = [n for n in sorted(self.zones) if n > marker]
        return Reply(200, [{"domain": n, "domainId": abs(hash(n)) % 10**9, "status": "ACTIVE"} for n in names[:limit]])

    def _txt(self, request: Request, domain: str, fqdn: str) -> Reply:
        mine = self.records(fqdn, zone=domain)
        label = "@" if fqdn == domain else fqdn[: -len(domain) - 1]
        if request.method == "GET":
            return Reply(200, [{"data": r.value, "name": label, "ttl": r.ttl, "type": "TXT"} for r in mine])
        if request.method == "DELETE":
            if not mine:
                return _error(404, "NOT_FOUND", "Record not found")
            self.replace_set(domain, fqdn, [], 600)
            return Reply(204)
        if request.method == "PUT":
            body = request.json()
            if not isinstance(body, list) or not body or not all(
                    isinstance(r, dict) and isinstance(r.get("data"), str) and int(r.get("ttl", 3600)) >= 600
                    for r in body):
                return _error(422, "INVALID_BODY", "Request body doesn't fulfill schema, see details in `fields`",
                              fields=[{"path": "records", "code": "INVALID", "message": "data required, ttl >= 600"}])
            self.replace_set(domain, fqdn, [r["data"] for r in body], int(body[0].get("ttl", 3600)))
            return Reply(200)
        return _error(405, "METHOD_NOT_ALLOWED", "Method not allowed")

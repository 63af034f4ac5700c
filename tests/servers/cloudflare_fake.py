"""A stateful fake of Cloudflare's API v4 (zones and DNS records), over HTTPS on 127.0.0.1.

    fake = CloudflareFake(tls, tokens={"tok": None}, global_keys={("a@example.com", "key")},
                          write_through=None, limit=(1200, 300)).start()
    fake.add_zone("example.com"); fake.url  # -> the account's endpoint (.../client/v4)

- Auth as Cloudflare checks it: `Authorization: Bearer <token>` (a token maps to the zone names it may
  edit, None = all) or `X-Auth-Email` + `X-Auth-Key` (the Global API key, every zone). Unknown token:
  403 code 9109 "Invalid access token"; unknown key or email: 403 code 9103; a zone the token may not
  edit: 403 code 10000 "Authentication error".
- `GET /zones` (page, per_page <= 50, or `zones_per_page` to make tests page; name),
  `GET /user/tokens/verify`.
- `GET /zones/{id}/dns_records` (type, name, content, page, per_page), `POST` one record (append
  semantics: each TXT value its own record; an identical record: 400 code 81058), `DELETE
  /zones/{id}/dns_records/{record_id}` (unknown: 404 code 81044). TTL 1 (auto) or 60..86400.
- Everything FakeDNSAPI gives: injected failures, the documented limit (1,200 / 5 min by default
  when `limit` is given as True), counts, write-through (tests/servers/hosted_dns.py).
"""

from __future__ import annotations

import hashlib
from typing import Any

from tests.servers.hosted_dns import FakeDNSAPI, Record, Reply, Request, WriteThrough
from tests.servers.test_ca import LoopbackTLS

LIMIT = (1200, 300.0)


def _fail(status: int, code: int, message: str) -> Reply:
    return Reply(status, {"success": False, "errors": [{"code": code, "message": message}], "messages": [],
                          "result": None})


def _ok(result: Any, info: dict[str, int] | None = None) -> Reply:
    body = {"success": True, "errors": [], "messages": [], "result": result}
    if info is not None:
        body["result_info"] = info
    return Reply(200, body)


class CloudflareFake(FakeDNSAPI):
    prefix = "/client/v4"

    def __init__(self, tls: LoopbackTLS, *, tokens: dict[str, set[str] | None] | None = None,
                 global_keys: set[tuple[str, str]] | None = None, write_through: WriteThrough | None = None,
                 limit: tuple[int, float] | bool | None = None, zones_per_page: int = 50) -> None:
        super().__init__(tls, write_through=write_through, limit=LIMIT if limit is True else limit or None)
        self.zones_per_page = zones_per_page  # Cloudflare's largest page of GET /zones; tests lower it to page
        self.tokens = tokens if tokens is not None else {}
        self.global_keys = global_keys or set()
        self.zone_ids: dict[str, str] = {}

    def add_zone(self, name: str) -> None:
        super().add_zone(name)
        self.zone_ids.setdefault(hashlib.md5(name.encode()).hexdigest(), name.lower())  # noqa: S324 (an id)

    def error_body(self, status: int) -> Any:
        if status == 429:
            return _fail(429, 971, "Please wait and consider throttling your request speed").body
        return _fail(status, 10000 + status, f"HTTP {status}").body

    # ---- auth ------------------------------------------------------------------------------------
    def _allowed(self, request: Request) -> tuple[set[str] | None, Reply | None]:
        bearer = request.headers.get("authorization", "")
        if bearer:
            token = bearer.removeprefix("Bearer ").strip()
            if not bearer.startswith("Bearer ") or token not in self.tokens:
                return None, _fail(403, 9109, "Invalid access token")
            return self.tokens[token], None
        pair = (request.headers.get("x-auth-email", ""), request.headers.get("x-auth-key", ""))
        if not all(pair):
            return None, _fail(400, 6003, "Invalid request headers")
        if pair not in self.global_keys:
            return None, _fail(403, 9103, "Unknown X-Auth-Key or X-Auth-Email")
        return None, None

    # ---- routes ----------------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply:
        allowed, refused = self._allowed(request)
        if refused is not None:
            return refused
        parts = request.path.strip("/").split("/")
        if parts == ["user", "tokens", "verify"] and request.method == "GET":
            return _ok({"id": "fake", "status": "active"})
        if parts == ["zones"] and request.method == "GET":
            return self._zones(request, allowed)
        if len(parts) >= 3 and parts[0] == "zones" and parts[2] == "dns_records":
            zone = self.zone_ids.get(parts[1])
            if zone is None:
                return _fail(400, 7003, f"Could not route to /zones/{parts[1]}/dns_records, perhaps your object "
                                        "identifier is invalid?")
            if allowed is not None and zone not in allowed:
                return _fail(403, 10000, "Authentication error")
            return self._records(request, zone, parts[3] if len(parts) > 3 else None)
        return _fail(404, 7000, "No route for that URI")

    def _zones(self, request: Request, allowed: set[str] | None) -> Reply:
        per_page = min(self.zones_per_page, int(request.query.get("per_page", 20)))
        page = max(1, int(request.query.get("page", 1)))
        rows = [{"id": i, "name": n, "status": "active"} for i, n in sorted(self.zone_ids.items(), key=lambda x: x[1])
                if (allowed is None or n in allowed) and request.query.get("name", n) == n]
        chunk = rows[(page - 1) * per_page: page * per_page]
        pages = max(1, -(-len(rows) // per_page))
        return _ok(chunk, {"page": page, "per_page": per_page, "count": len(chunk), "total_count": len(rows),
                           "total_pages": pages})

    def _records(self, request: Request, zone: str, record_id: str | None) -> Reply:
        if request.method == "GET" and record_id is None:
            q = request.query
            rows = [_shape(r, zone) for r in self.zones[zone]
                    if q.get("type", r.type) == r.type and q.get("name", r.name) == r.name
                    and q.get("content", r.value) == r.value]
            per_page = min(5000, int(q.get("per_page", 100)))
            page = max(1, int(q.get("page", 1)))
            chunk = rows[(page - 1) * per_page: page * per_page]
            return _ok(chunk, {"page": page, "per_page": per_page, "count": len(chunk), "total_count": len(rows),
                               "total_pages": max(1, -(-len(rows) // per_page))})
        if request.method == "POST" and record_id is None:
            return self._create(request.json() or {}, zone)
        if request.method == "DELETE" and record_id is not None:
            found = [r for r in self.zones[zone] if r.id == record_id]
            if not found:
                return _fail(404, 81044, "Record does not exist.")
            self.remove(found[0])
            return _ok({"id": record_id})
        return _fail(405, 10405, "Method not allowed")

    def _create(self, body: dict[str, Any], zone: str) -> Reply:
        name, rtype, content = str(body.get("name", "")).lower().rstrip("."), body.get("type"), body.get("content")
        ttl = int(body.get("ttl", 1))
        if not name or not rtype or content is None:
            return _fail(400, 9005, "Content for TXT record is invalid.")
        if name != zone and not name.endswith("." + zone):
            return _fail(400, 9007, "DNS name is not within the zone.")
        if ttl != 1 and not 60 <= ttl <= 86400:
            return _fail(400, 9021, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.")
        if any(r.name == name and r.type == rtype and r.value == content for r in self.zones[zone]):
            return _fail(400, 81058, "An identical record already exists.")
        record = self.add_record(name, str(content), str(rtype), ttl, zone=zone)
        return _ok(_shape(record, zone))


def _shape(record: Record, zone: str) -> dict[str, Any]:
    return {"id": record.id, "type": record.type, "name": record.name, "content": record.value,
            "ttl": record.ttl, "zone_name": zone, "proxied": False}

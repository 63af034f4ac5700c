"""A fake of acme-dns's HTTP API (github.com/joohoi/acme-dns, api.go) over HTTPS on loopback.

- `POST /register` → 201 `{"username", "password", "fulldomain", "subdomain", "allowfrom"}` (a UUID
  user, a 40-character password, a UUID subdomain of the server's zone);
- `POST /update` with `X-Api-User` / `X-Api-Key` and `{"subdomain", "txt"}` → 200 `{"txt": ...}`; 401
  `{"error": "forbidden"}` for a wrong user or password, or a subdomain that is not the user's; 400
  `{"error": "bad_txt"}` unless the value is 43 characters (a dns-01 digest); acme-dns keeps the two
  most recent values of a subdomain, so a name and its wildcard validate together;
- `GET /health` → 200. There is no delete.

With `write_through` (e.g. a tests/servers/bind9.Bind9 serving the zone) every update is mirrored into
a real zone, so a name whose `_acme-challenge` is a CNAME to the fulldomain really validates.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from tests.servers.hosted_dns import FakeDNSAPI, Reply, Request
from tests.servers.test_ca import LoopbackTLS


class AcmeDnsFake(FakeDNSAPI):
    def __init__(self, tls: LoopbackTLS, zone: str = "acmedns.test", **kwargs: Any) -> None:
        super().__init__(tls, **kwargs)
        self.zone = zone
        self.add_zone(zone)
        self.users: dict[str, tuple[str, str]] = {}  # username -> (password, subdomain)
        self.values: dict[str, list[str]] = {}  # subdomain -> the last two values

    def register(self) -> dict[str, str]:
        """A registration made directly (as an administrator would with curl)."""
        return self.handle(Request("POST", "register", {}, {}, b"")).body  # type: ignore[no-any-return]

    def error_body(self, status: int) -> Any:
        return {"error": "internal error" if status >= 500 else "bad request"}

    def handle(self, request: Request) -> Reply:
        if request.method == "GET" and request.path == "health":
            return Reply(200)
        if request.method == "POST" and request.path == "register":
            username, password, subdomain = str(uuid.uuid4()), secrets.token_urlsafe(30)[:40], str(uuid.uuid4())
            self.users[username] = (password, subdomain)
            return Reply(201, {"username": username, "password": password, "subdomain": subdomain,
                               "fulldomain": f"{subdomain}.{self.zone}", "allowfrom": []})
        if request.method == "POST" and request.path == "update":
            return self._update(request)
        return Reply(404, {"error": "not found"})

    def _update(self, request: Request) -> Reply:
        user = self.users.get(request.headers.get("x-api-user", ""))
        try:
            body = request.json() or {}
        except ValueError:
            return Reply(400, {"error": "malformed_json_payload"})
        if user is None or not secrets.compare_digest(user[0], request.headers.get("x-api-key", "")) \
                or body.get("subdomain") != user[1]:
            return Reply(401, {"error": "forbidden"})
        txt = str(body.get("txt", ""))
        if len(txt) != 43:
            return Reply(400, {"error": "bad_txt"})
        kept = [*self.values.get(user[1], []), txt][-2:]
        self.values[user[1]] = kept
        self.replace_set(self.zone, f"{user[1]}.{self.zone}", kept, 1)
        return Reply(200, {"txt": txt})

"""A stateful fake of Azure DNS (Resource Manager, api-version 2018-05-01) and its token endpoint, over
HTTPS on 127.0.0.1.

    fake = AzureDnsFake(tls, apps={("tenant", "client-id"): "secret"}, subscription="sub",
                        resource_group="rg", write_through=None, limit=None).start()
    fake.add_zone("example.com")
    options = {"endpoint": fake.url, "authority_url": fake.authority_url, ...}

- Token endpoint `POST {authority_url}/{tenant}/oauth2/v2.0/token` (client credentials, form fields
  client_id, client_secret, scope https://management.azure.com/.default): unknown tenant 400
  invalid_request AADSTS90002, unknown client 400 unauthorized_client AADSTS700016, wrong secret
  401 invalid_client AADSTS7000215. Tokens last `token_lifetime` seconds; `expire_tokens()` makes
  every issued one expire now (ARM then answers 401 ExpiredAuthenticationToken).
- ARM: `GET .../resourceGroups/{rg}/providers/Microsoft.Network/dnsZones` (pages of `page_size`
  with an absolute nextLink), `GET|PUT|DELETE .../dnsZones/{zone}/TXT/{relative name or @}`.
  A PUT REPLACES the set; every set has an ETag (body and header); `If-Match` must equal it and
  `If-None-Match: *` requires there is none, else 412 PreconditionFailed. Missing set: GET 404,
  DELETE 204. api-version is required. Unknown subscription or group: 404 / 403 as ARM does.
- `start_identity_endpoint(identities)`: a plain-HTTP managed identity endpoint (as the VM's
  169.254.169.254) answering `GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=
  https://management.azure.com/[&client_id=]` with `Metadata: true`; returns its URL.
- `race(fqdn, value)`: just before the next PUT or DELETE of that set, "another writer" adds `value`
  (a new ETag), so that write meets 412: the optimistic-concurrency path.
- Everything else as FakeDNSAPI (tests/servers/hosted_dns.py).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.servers.hosted_dns import FakeDNSAPI, Reply, Request, WriteThrough
from tests.servers.process import free_port
from tests.servers.test_ca import LoopbackTLS

SCOPE = "https://management.azure.com/.default"
API_VERSION = "2018-05-01"


def _arm_error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


def _aad_error(status: int, error: str, code: int, text: str) -> Reply:
    return Reply(status, {"error": error, "error_description": f"AADSTS{code}: {text}\r\nTrace ID: {uuid.uuid4()}",
                          "error_codes": [code]})


class AzureDnsFake(FakeDNSAPI):
    def __init__(self, tls: LoopbackTLS, *, apps: dict[tuple[str, str], str], subscription: str,
                 resource_group: str, write_through: WriteThrough | None = None,
                 limit: tuple[int, float] | None = None, token_lifetime: int = 3599, page_size: int = 100) -> None:
        super().__init__(tls, write_through=write_through, limit=limit)
        self.apps, self.subscription, self.resource_group = apps, subscription, resource_group
        self.token_lifetime, self.page_size = token_lifetime, page_size
        self.tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self.etags: dict[tuple[str, str], str] = {}  # (zone, fqdn) -> ETag of the TXT set
        self.metadata: dict[tuple[str, str], dict[str, str]] = {}
        self._races: dict[str, str] = {}
        self._identity_servers: list[ThreadingHTTPServer] = []

    @property
    def authority_url(self) -> str:
        return f"{self.url}/login"

    def start_identity_endpoint(self, identities: set[str]) -> str:
        """A plain-HTTP managed identity endpoint on loopback (what 169.254.169.254 is on a VM) whose
        tokens this fake's ARM accepts. `identities`: "system" and/or user-assigned client ids."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                with fake.lock:
                    fake.calls.append((time.monotonic(), "GET", "identity" + parts.path))
                    reply = fake._identity(parts.path, query, self.headers.get("Metadata"), identities)
                data = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._identity_servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/metadata/identity/oauth2/token"

    def _identity(self, path: str, query: dict[str, str], metadata: str | None, identities: set[str]) -> Reply:
        if path != "/metadata/identity/oauth2/token":
            return Reply(404, {"error": "not_found"})
        if metadata != "true":
            return Reply(400, {"error": "invalid_request", "error_description": "Required metadata header not "
                                                                                "specified"})
        if query.get("api-version") != "2018-02-01" or query.get("resource") != "https://management.azure.com/":
            return Reply(400, {"error": "invalid_request", "error_description": "Invalid api-version or resource"})
        if query.get("client_id", "system") not in identities:
            return Reply(400, {"error": "invalid_request", "error_description": "Identity not found"})
        token = uuid.uuid4().hex + uuid.uuid4().hex
        self.tokens[token] = time.monotonic() + self.token_lifetime
        return Reply(200, {"access_token": token, "expires_in": str(self.token_lifetime), "resource":
                           query["resource"], "token_type": "Bearer"})

    def stop(self) -> None:
        for server in self._identity_servers:
            server.shutdown()
            server.server_close()
        super().stop()

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens = dict.fromkeys(self.tokens, 0.0)

    def race(self, fqdn: str, value: str) -> None:
        with self.lock:
            self._races[fqdn.lower()] = value

    def token_calls(self) -> int:
        return self.count("POST", "/oauth2/v2.0/token")

    def error_body(self, status: int) -> Any:
        code = {429: "TooManyRequests", 503: "ServiceUnavailable"}.get(status, "InternalServerError")
        return {"error": {"code": code, "message": f"HTTP {status}"}}

    def changed(self, fqdn: str, type: str) -> None:  # noqa: A002
        if type == "TXT":
            zone = self.zone_of(fqdn)
            if zone is not None and not self.records(fqdn, zone=zone):
                self.etags.pop((zone, fqdn), None)
            elif zone is not None:
                self.etags[(zone, fqdn)] = str(uuid.uuid4())
        super().changed(fqdn, type)

    # ---- routes ----------------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply:
        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        if parts[:1] == ["login"] and parts[2:] == ["oauth2", "v2.0", "token"] and request.method == "POST":
            return self._token(parts[1], request.form())
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        expiry = self.tokens.get(token)
        if expiry is None:
            return _arm_error(401, "InvalidAuthenticationToken", "The access token is invalid.")
        if expiry <= time.monotonic():
            return _arm_error(401, "ExpiredAuthenticationToken", "The access token expiry UTC time is earlier "
                                                                   "than current UTC time.")
        if request.query.get("api-version") != API_VERSION:
            return _arm_error(400, "MissingApiVersionParameter", "The api-version query parameter is required "
                                                                  f"(this fake knows {API_VERSION}).")
        if parts[:2] != ["subscriptions", self.subscription]:
            return _arm_error(404, "SubscriptionNotFound", f"The subscription '{parts[1:2]}' could not be found.")
        lower = [p.lower() for p in parts]
        if lower[2:4] != ["resourcegroups", self.resource_group.lower()] or lower[4:7] != [
                "providers", "microsoft.network", "dnszones"]:
            return _arm_error(404, "ResourceGroupNotFound", "Resource group could not be found.")
        if len(parts) == 7 and request.method == "GET":
            return self._zones(request)
        if len(parts) == 10 and parts[8].upper() == "TXT":
            zone = parts[7].lower()
            if zone not in self.zones:
                return _arm_error(404, "ResourceNotFound", f"The Resource 'Microsoft.Network/dnszones/{zone}' under "
                                                           f"resource group '{self.resource_group}' was not found.")
            fqdn = zone if parts[9] == "@" else f"{parts[9].lower()}.{zone}"
            return self._set(request, zone, fqdn, parts[9])
        return _arm_error(404, "NotFound", "No such resource type")

    def _token(self, tenant: str, form: dict[str, str]) -> Reply:
        if form.get("grant_type") != "client_credentials":
            return _aad_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        if not any(t == tenant for t, _c in self.apps):
            return _aad_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        secret = self.apps.get((tenant, form.get("client_id", "")))
        if secret is None:
            return _aad_error(400, "unauthorized_client", 700016, "Application with identifier "
                                                                  f"'{form.get('client_id')}' was not found.")
        if form.get("client_secret") != secret:
            return _aad_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        if form.get("scope") != SCOPE:
            return _aad_error(400, "invalid_scope", 70011, f"The provided value for scope {form.get('scope')} "
                                                           "is not valid.")
        token = uuid.uuid4().hex + uuid.uuid4().hex
        self.tokens[token] = time.monotonic() + self.token_lifetime
        return Reply(200, {"token_type": "Bearer", "expires_in": self.token_lifetime, "ext_expires_in":
                           self.token_lifetime, "access_token": token})

    def _group_path(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                "/providers/Microsoft.Network/dnsZones")

    def _zones(self, request: Request) -> Reply:
        names = sorted(self.zones)
        start = int(request.query.get("$skipToken", 0) or 0)
        chunk = names[start:start + self.page_size]
        body: dict[str, Any] = {"value": [{"id": f"{self._group_path()}/{n}", "name": n, "type":
                                           "Microsoft.Network/dnszones", "location": "global",
                                           "etag": "00000002-0000-0000-0000-000000000000",
                                           "properties": {"maxNumberOfRecordSets": 10000,
                                                          "numberOfRecordSets": 2 + len(self.zones[n]),
                                                          "nameServers": ["ns1-01.azure-dns.com."]}}
                                          for n in chunk]}
        if start + self.page_size < len(names):
            body["nextLink"] = (f"{self.url}{self._group_path()}?api-version={API_VERSION}"
                                f"&$skipToken={start + self.page_size}")
        return Reply(200, body)

    def _shape(self, zone: str, fqdn: str, label: str) -> Reply:
        records = self.records(fqdn, zone=zone)
        etag = self.etags[(zone, fqdn)]
        body = {"id": f"{self._group_path()}/{zone}/TXT/{label}", "name": label,
                "type": "Microsoft.Network/dnszones/TXT", "etag": etag,
                "properties": {"metadata": self.metadata.get((zone, fqdn), {}), "TTL": records[0].ttl,
                               "fqdn": f"{fqdn}.", "provisioningState": "Succeeded",
                               "TXTRecords": [{"value": [r.value]} for r in records]}}
        return Reply(200, body, {"ETag": etag})

    def _set(self, request: Request, zone: str, fqdn: str, label: str) -> Reply:
        race = self._races.pop(fqdn, None) if request.method in ("PUT", "DELETE") else None
        if race is not None:
            self.add_record(fqdn, race, "TXT", 60, zone=zone)
        current = self.etags.get((zone, fqdn))
        if_match, if_none = request.headers.get("if-match"), request.headers.get("if-none-match")
        if request.method == "GET":
            if current is None:
                return _arm_error(404, "NotFound", f"The resource record '{label}' does not exist in resource group "
                                                   f"'{self.resource_group}' of subscription '{self.subscription}'.")
            return self._shape(zone, fqdn, label)
        if (if_match is not None and if_match != current) or (if_none == "*" and current is not None):
            return _arm_error(412, "PreconditionFailed", f"The Record set {label} has been modified (etag mismatch).")
        if request.method == "DELETE":
            if current is None:
                return Reply(204)
            self.replace_set(zone, fqdn, [], 60)
            self.metadata.pop((zone, fqdn), None)
            return Reply(200)
        if request.method == "PUT":
            props = (request.json() or {}).get("properties") or {}
            rows = props.get("TXTRecords")
            if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("value"), list)
                                                     for r in rows):
                return _arm_error(400, "BadRequest", "TXTRecords must be a list of {value: [strings]}.")
            if not rows:
                return _arm_error(400, "BadRequest", "A TXT record set needs at least one record (delete it "
                                                     "instead).")
            if any(len(s) > 255 for r in rows for s in r["value"]):
                return _arm_error(400, "BadRequest", "A TXT string is longer than 255 characters.")
            self.replace_set(zone, fqdn, ["".join(r["value"]) for r in rows], int(props.get("TTL", 3600)))
            self.metadata[(zone, fqdn)] = dict(props.get("metadata") or {})
            reply = self._shape(zone, fqdn, label)
            reply.status = 200 if current is not None else 201
            return reply
        return _arm_error(405, "MethodNotAllowed", "Method not allowed")

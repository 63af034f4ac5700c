"""A stateful fake of the ServiceNow Table API (incident, sys_journal_field) and its OAuth token endpoint.

    fake = ServiceNowFake(tls, client_ca=ca_pem).start()   # client_ca: require a client certificate
    fake.url                                # the instance URL, https://127.0.0.1:PORT
    fake.username, fake.password            # Basic auth ("certvault" / "sn-password-1")
    fake.client_id, fake.client_secret      # OAuth client credentials for POST /oauth_token.do
    fake.tickets                            # {number: record}: string fields as the API stores them
    fake.journal("INC0010001", "comments")  # the journal entries (newest last) of one field
    fake.set_state("INC0010001", "7")       # what a technician or the autoclose job does
    fake.calls, fake.fail_next(kind, count) # see tests/servers/helpdesk_http.py
    fake.closed_writes = "reject"           # writes to Closed/Canceled incidents: 403 (or "ignore": 200, no-op)
    fake.rate_limit = (10, 2.0)             # at most 10 API calls per 2 s, then 429 + Retry-After, X-RateLimit-*

Faithful to the research note (../shared/research/integrations.md §2): `{"result": ...}` envelopes with
string scalars; POST answers 201 with Location; `/api/now/v2` lists answer 200 `[]` when nothing matches,
unversioned and v1 lists 404; X-Total-Count and Link headers; `sysparm_query` with `=`, `!=`, `IN`,
`NOT IN`, `LIKE`, `STARTSWITH`, `ENDSWITH`, `ISEMPTY`, `^`, `^OR`, `ORDERBY`/`ORDERBYDESC`, unknown fields
silently ignored (so a misspelt field matches every incident, as on a real instance);
`sysparm_fields`, `sysparm_limit`, `sysparm_offset`, `sysparm_display_value` (false|true|all),
`sysparm_exclude_reference_link`; `comments`/`work_notes` are journals (appended on write, read back as
""); `X-no-response-body: true` on a POST; priority is computed from impact and urgency by the default
lookup matrix; a Resolved incident may move back to New/In Progress/On Hold (reopen_count + 1); Resolved
needs close_code and close_notes (a data policy, 403 otherwise); errors are `{"error": {"message",
"detail"}, "status": "failure"}`; an optional per-user rate limit answers 429 with Retry-After and the
X-RateLimit-Limit/-Reset/-Rule headers.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.servers.helpdesk_http import Failure, FakeHelpDesk, Reply, Request
from tests.servers.test_ca import LoopbackTLS

STATES = {"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed", "8": "Canceled"}
LEVELS = {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"}
PRIORITIES = {"1": "1 - Critical", "2": "2 - High", "3": "3 - Moderate", "4": "4 - Low", "5": "5 - Planning"}
REFERENCES = ("caller_id", "assignment_group", "assigned_to", "opened_by", "cmdb_ci")
JOURNALS = ("comments", "work_notes")
INCIDENT_FIELDS = (
    "sys_id", "number", "state", "incident_state", "active", "impact", "urgency", "priority", "short_description",
    "description", "correlation_id", "correlation_display", "close_code", "close_notes", "hold_reason",
    "reopen_count", "category", "subcategory", "contact_type", "caller_id", "assignment_group", "assigned_to",
    "opened_by", "cmdb_ci", "opened_at", "resolved_at", "closed_at", "sys_created_on", "sys_updated_on",
    "sys_created_by", "sys_updated_by", "sys_mod_count", "comments", "work_notes",
)
INDEXED = ("number", "correlation_id", "sys_id")  # looked up by equality often: indexed for speed only
JOURNAL_FIELDS = ("sys_id", "element", "element_id", "name", "value", "sys_created_on", "sys_created_by")
_OPERATORS = "ISNOTEMPTY|ISEMPTY|NOT IN|NOT LIKE|STARTSWITH|ENDSWITH|LIKE|IN|!=|>=|<=|=|>|<"
_TERM = re.compile(rf"^([a-z0-9_.]+?)({_OPERATORS})(.*)$", re.S)
_TABLE = re.compile(r"^/api/now/(?:(v1|v2)/)?table/([a-z_0-9]+)(?:/([A-Za-z0-9]+))?$")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def priority_of(impact: str, urgency: str) -> str:
    """The default Priority Lookup Rules: impact + urgency - 1, between 1 and 5."""
    try:
        return str(min(5, max(1, int(impact) + int(urgency) - 1)))
    except ValueError:
        return "4"


def _error(status: int, message: str, detail: str = "") -> Reply:
    return Reply(status, {"error": {"message": message, "detail": detail}, "status": "failure"})


# ---- encoded queries ------------------------------------------------------------------------------

def _split(query: str) -> list[str]:
    """Terms between single '^' ('^^' is a literal caret)."""
    terms, current, i = [], "", 0
    while i < len(query):
        if query.startswith("^^", i):
            current, i = current + "^", i + 2
        elif query[i] == "^":
            terms.append(current)
            current, i = "", i + 1
        else:
            current, i = current + query[i], i + 1
    terms.append(current)
    return [t for t in terms if t]


def _matches(record: dict[str, str], field: str, op: str, value: str) -> bool:
    actual = record.get(field, "")
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    if op in ("IN", "NOT IN"):
        return (actual in value.split(",")) == (op == "IN")
    if op in ("LIKE", "NOT LIKE"):
        return (value in actual) == (op == "LIKE")
    if op == "STARTSWITH":
        return actual.startswith(value)
    if op == "ENDSWITH":
        return actual.endswith(value)
    if op == "ISEMPTY":
        return actual == ""
    if op == "ISNOTEMPTY":
        return actual != ""
    left, right = (int(actual), int(value)) if actual.isdigit() and value.isdigit() else (actual, value)
    return {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[op]  # type: ignore[operator]


Condition = tuple[str, str, str]


def parse_query(query: str, fields: tuple[str, ...]) -> tuple[list[list[Condition]], list[tuple[str, bool]]]:
    """(AND-ed groups of OR-ed conditions, ORDERBY fields); terms on unknown fields are dropped."""
    groups: list[list[Condition]] = []
    order: list[tuple[str, bool]] = []
    for term in _split(query):
        if term.startswith("ORDERBYDESC"):
            order.append((term[11:], True))
            continue
        if term.startswith("ORDERBY"):
            order.append((term[7:], False))
            continue
        alternative = term.startswith("OR") and bool(groups)
        parsed = _TERM.match(term[2:] if alternative else term)
        if parsed is None or parsed.group(1) not in fields:
            continue  # glide.invalid_query.returns_no_rows = false: silently ignored
        condition = (parsed.group(1), parsed.group(2), parsed.group(3))
        if alternative:
            groups[-1].append(condition)
        else:
            groups.append([condition])
    return groups, [(f, d) for f, d in order if f in fields]


def run_query(records: list[dict[str, str]], query: str, fields: tuple[str, ...],
              index: dict[str, dict[str, dict[str, dict[str, str]]]] | None = None) -> list[dict[str, str]]:
    """Filter and order `records` by an encoded query. `index` (field -> value -> records, in insertion
    order) only narrows the rows looked at for an `=`/`IN` group on an indexed field: same result, faster."""
    groups, order = parse_query(query, fields)
    for group in groups:
        if index and len(group) == 1 and group[0][0] in index and group[0][1] in ("=", "IN"):
            name, op, value = group[0]
            values = value.split(",") if op == "IN" else [value]
            hits = {sys_id: r for v in values for sys_id, r in index[name].get(v, {}).items()}
            records = list(hits.values())  # no ORDERBY: no promised order, as on an instance
            break
    out = [r for r in records if all(any(_matches(r, *c) for c in group) for group in groups)]
    for field_name, descending in reversed(order):
        out.sort(key=lambda r, f=field_name: r.get(f, ""), reverse=descending)  # type: ignore[misc]
    return out


# ---- the fake -------------------------------------------------------------------------------------

class ServiceNowFake(FakeHelpDesk):
    title = "ServiceNow"

    def __init__(self, tls: LoopbackTLS, client_ca: Path | str | bytes | None = None, *,
                 username: str = "certvault", password: str = "sn-password-1",
                 client_id: str = "sn-client-id", client_secret: str = "sn-client-secret-1",
                 api_key: str | None = None) -> None:
        super().__init__(tls, client_ca)
        self.username, self.password = username, password
        self.client_id, self.client_secret = client_id, client_secret
        self.api_key = api_key
        self.closed_writes = "reject"
        self.rate_limit: tuple[int, float] | None = None
        self._window: list[float] = []
        self.records: dict[str, dict[str, str]] = {}  # by sys_id
        self.journal_rows: list[dict[str, str]] = []
        self.tokens: set[str] = set()
        self._counter = 10000
        self._index: dict[str, dict[str, dict[str, dict[str, str]]]] = {f: {} for f in INDEXED}

    # ---- state a test reads or sets -----------------------------------------------------------
    @property
    def tickets(self) -> dict[str, dict[str, str]]:
        with self.lock:
            return {r["number"]: dict(r) for r in self.records.values()}

    def by_number(self, number: str) -> dict[str, str]:
        return next(r for r in self.records.values() if r["number"] == number)

    def journal(self, number: str, element: str | None = None) -> list[str]:
        sys_id = self.by_number(number)["sys_id"]
        return [j["value"] for j in self.journal_rows
                if j["element_id"] == sys_id and (element is None or j["element"] == element)]

    def set_state(self, number: str, state: str) -> None:
        with self.lock:
            self._apply_state(self.by_number(number), state, force=True)

    # ---- HTTP ---------------------------------------------------------------------------------
    def is_auth_call(self, request: Request) -> bool:
        return request.path == "/oauth_token.do"

    def failure_reply(self, status: int, failure: Failure) -> Reply:
        if status == 429:
            return _error(429, "Rate limit exceeded", "Rate limit of 10 requests per hour for Table API exceeded")
        return _error(status, "Injected failure", f"HTTP {status}")

    def route(self, request: Request) -> Reply:
        if request.path == "/oauth_token.do":
            return self._token(request)
        if not self._authenticated(request.headers):
            return _error(401, "User Not Authenticated", "Required to provide Auth information")
        limited = self._rate_limited()
        if limited is not None:
            return limited
        match = _TABLE.match(request.path)
        if match is None:
            return _error(400, "Requested URI does not represent any resource", request.path)
        version, table, sys_id = match.groups()
        if table not in ("incident", "sys_journal_field"):
            return _error(400, f"Invalid table {table}", "")
        with self.lock:
            return self._table(request, version or "", table, sys_id)

    def _token(self, request: Request) -> Reply:
        form = {k: v[0] for k, v in request.form().items()}
        grant = form.get("grant_type", "")
        client_ok = (form.get("client_id"), form.get("client_secret")) == (self.client_id, self.client_secret)
        user_ok = grant != "password" or (form.get("username"), form.get("password")) == (self.username,
                                                                                           self.password)
        if grant not in ("client_credentials", "password") or not client_ok or not user_ok:
            return Reply(401, {"error_description": "access_denied", "error": "server_error"})
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        return Reply(200, {"access_token": token, "scope": "useraccount", "token_type": "Bearer",
                           "expires_in": 1799})

    def _rate_limited(self) -> Reply | None:
        """`rate_limit = (requests, seconds)`: a sys_rate_limit_rules entry for the integration user."""
        if self.rate_limit is None:
            return None
        allowed, window = self.rate_limit
        now = time.time()
        with self.lock:
            self._window = [t for t in self._window if t > now - window]
            if len(self._window) < allowed:
                self._window.append(now)
                return None
            reset = int(self._window[0] + window) + 1
        reply = _error(429, "Rate limit exceeded",
                       f"Rate limit of {allowed} requests per {window:g} seconds for Table API exceeded")
        reply.headers.update({"Retry-After": str(max(1, reset - int(now))), "X-RateLimit-Limit": str(allowed),
                              "X-RateLimit-Reset": str(reset), "X-RateLimit-Rule": "a7e3c4b1d0c2d3e4f5a6b7c8d9e0f1a2"})
        return reply

    def _authenticated(self, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return False
            return (user, password) == (self.username, self.password)
        if auth.startswith("Bearer "):
            return auth[7:] in self.tokens
        return self.api_key is not None and headers.get("x-sn-apikey") == self.api_key

    def _table(self, request: Request, version: str, table: str, sys_id: str | None) -> Reply:
        if table == "sys_journal_field":
            if request.method != "GET" or sys_id:
                return _error(405, "Method not supported", request.method)
            return self._list(request, version, self.journal_rows, JOURNAL_FIELDS, None)
        if sys_id is None:
            if request.method == "GET":
                return self._list(request, version, list(self.records.values()), INCIDENT_FIELDS, self._index)
            if request.method == "POST":
                return self._insert(request)
            return _error(405, "Method not supported", request.method)
        record = self.records.get(sys_id)
        if record is None:
            return _error(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
        if request.method == "GET":
            return Reply(200, {"result": self._render(record, request)})
        if request.method in ("PATCH", "PUT"):
            return self._update(record, request)
        if request.method == "DELETE":
            self._unindex(self.records.pop(sys_id))
            return Reply(204)
        return _error(405, "Method not supported", request.method)

    def _list(self, request: Request, version: str, rows: list[dict[str, str]], fields: tuple[str, ...],
              index: dict[str, dict[str, dict[str, dict[str, str]]]] | None) -> Reply:
        found = run_query(rows, request.arg("sysparm_query"), fields, index)
        try:
            limit = int(request.arg("sysparm_limit", "10000"))
            offset = int(request.arg("sysparm_offset", "0"))
        except ValueError:
            return _error(400, "Invalid sysparm_limit or sysparm_offset", "")
        page = found[offset:offset + limit]
        if not found and version != "v2":
            return _error(404, "No Record found", "Records not found")
        headers = {"X-Total-Count": str(len(found))}
        if request.arg("sysparm_suppress_pagination_header") != "true":
            base = f"{self.url}{request.path}?sysparm_limit={limit}"
            links = [f'<{base}&sysparm_offset=0>;rel="first"']
            if offset + limit < len(found):
                links.append(f'<{base}&sysparm_offset={offset + limit}>;rel="next"')
            headers["Link"] = ",".join(links)
        return Reply(200, {"result": [self._render(r, request) for r in page]}, headers)

    def _render(self, record: dict[str, str], request: Request) -> dict[str, Any]:
        wanted = [f.strip() for f in request.arg("sysparm_fields").split(",") if f.strip()]
        mode = request.arg("sysparm_display_value", "false")
        links = request.arg("sysparm_exclude_reference_link", "false") != "true"
        out: dict[str, Any] = {}
        for name in wanted or list(record):
            value = "" if name in JOURNALS else record.get(name, "")
            shown = _display(name, value)
            if mode == "all":
                out[name] = {"display_value": shown, "value": value}
            elif mode == "true":
                out[name] = shown
            elif links and name in REFERENCES and value:
                out[name] = {"link": f"{self.url}/api/now/table/sys_user/{value}", "value": value}
            else:
                out[name] = value
        return out

    def _body(self, request: Request) -> dict[str, Any] | Reply:
        if "json" not in request.headers.get("content-type", ""):
            return _error(415, "Unsupported Media Type", request.headers.get("content-type", ""))
        try:
            body = request.json()
        except ValueError:
            return _error(400, "Exception while reading request", "The payload is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, "Exception while reading request", "The payload is not a JSON object")
        return {k: "" if v is None else str(v) for k, v in body.items()}

    def _insert(self, request: Request) -> Reply:
        body = self._body(request)
        if isinstance(body, Reply):
            return body
        self._counter += 1
        now = _now()
        record = {name: "" for name in INCIDENT_FIELDS}
        record.update(sys_id=uuid.uuid4().hex, number=f"INC{self._counter:07d}", state="1", incident_state="1",
                      active="true", impact="3", urgency="3", reopen_count="0", opened_at=now,
                      sys_created_on=now, sys_updated_on=now, sys_created_by=self.username,
                      sys_updated_by=self.username, sys_mod_count="0", contact_type="integration")
        self._write_fields(record, {k: v for k, v in body.items() if k != "state"})
        if body.get("state") and body["state"] != "1":
            self._apply_state(record, body["state"], force=True)
        self.records[record["sys_id"]] = record
        self._reindex(record, {})
        location = f"{self.url}/api/now/table/incident/{record['sys_id']}"
        if request.headers.get("x-no-response-body", "").lower() == "true":
            return Reply(201, None, {"Location": location})
        return Reply(201, {"result": self._render(record, request)}, {"Location": location})

    def _update(self, record: dict[str, str], request: Request) -> Reply:
        body = self._body(request)
        if isinstance(body, Reply):
            return body
        if record["state"] in ("7", "8"):
            if self.closed_writes == "reject":
                return _error(403, "Operation Failed", "ACL Exception Update Failed due to security constraints")
            return Reply(200, {"result": self._render(record, request)})
        target = body.pop("state", None) or body.pop("incident_state", None)
        if target == "6":
            missing = [label for name, label in (("close_code", "Resolution code"), ("close_notes", "Resolution notes"))
                       if not (body.get(name) or record.get(name))]
            if missing:
                return _error(403, "Data Policy Exception: ", f"The following fields are mandatory: "
                              f"{', '.join(missing)}")
        self._write_fields(record, body)
        if target is not None and target != record["state"] and not self.take_refusal():
            self._apply_state(record, target)
        record["sys_updated_on"] = _now()
        record["sys_mod_count"] = str(int(record["sys_mod_count"]) + 1)
        return Reply(200, {"result": self._render(record, request)})

    def _unindex(self, record: dict[str, str]) -> None:
        for name in INDEXED:
            self._index[name].get(record[name], {}).pop(record["sys_id"], None)

    def _reindex(self, record: dict[str, str], before: dict[str, str]) -> None:
        for name in INDEXED:
            if before and before.get(name) != record[name]:
                self._index[name].get(before.get(name, ""), {}).pop(record["sys_id"], None)
            self._index[name].setdefault(record[name], {})[record["sys_id"]] = record

    def _write_fields(self, record: dict[str, str], body: dict[str, str]) -> None:
        before = dict(record) if record.get("sys_id") in self.records else {}
        for name, value in body.items():
            if name in JOURNALS:
                if value:
                    self.journal_rows.append({"sys_id": uuid.uuid4().hex, "element": name,
                                              "element_id": record["sys_id"], "name": "incident", "value": value,
                                              "sys_created_on": _now(), "sys_created_by": self.username})
            elif name in INCIDENT_FIELDS and name not in ("sys_id", "number", "priority", "sys_created_on"):
                record[name] = value  # fields the table does not have are ignored, as on an instance
        record["priority"] = priority_of(record["impact"], record["urgency"])
        if before:
            self._reindex(record, before)

    def _apply_state(self, record: dict[str, str], state: str, force: bool = False) -> None:
        """Out of the box: Resolved may go back to an active state (a reopen); Closed/Canceled are final."""
        if state not in STATES:
            return
        before = record["state"]
        if not force and before in ("7", "8"):
            return
        if before == "6" and state in ("1", "2", "3"):
            record["reopen_count"] = str(int(record["reopen_count"] or 0) + 1)
            record["resolved_at"] = ""
        record["state"] = record["incident_state"] = state
        record["active"] = "false" if state in ("7", "8") else "true"
        if state == "6":
            record["resolved_at"] = _now()
        if state == "7":
            record["closed_at"] = _now()


def _display(name: str, value: str) -> str:
    if name in ("state", "incident_state"):
        return STATES.get(value, value)
    if name in ("impact", "urgency"):
        return LEVELS.get(value, value)
    if name == "priority":
        return PRIORITIES.get(value, value)
    return value


"""A stateful fake of ManageEngine ServiceDesk Plus (on-premise) REST API v3: requests, notes, close.

    fake = ServiceDeskPlusFake(tls, client_ca=ca_pem).start()   # client_ca: require a client certificate
    fake.url                           # the server URL as admins know it, https://127.0.0.1:PORT
    fake.technician_key                # sent as the `authtoken` header (or `TECHNICIAN_KEY`)
    fake.tickets                       # {id: request} as the API shows it
    fake.notes("123640000000240001")   # the notes' descriptions, oldest first
    fake.set_status(id, "Closed")      # what a technician does
    fake.closed_final = True           # editing a Closed request is refused (4002, HTTP 403)
    fake.mandatory = {"subject"}       # fields a create must carry (4012 otherwise)
    fake.calls, fake.fail_next(kind, count)   # see tests/servers/helpdesk_http.py

Faithful to the research note (../shared/research/integrations.md §1): `input_data` (strict JSON) read
from the form body or the query string; `response_status` an object for one record and a list for a
list; ids are strings of long integers, times `{"value": "<epoch ms>", "display_value": ...}`; reference
fields (status, priority, requester, group, category) set by `{"name": ...}` or `{"id": ...}`, an unknown
name answering 4001; `udf_fields` a flat map of configured UDF keys; list_info with `row_count` (at most
100), `start_index` (1-based), `sort_field`/`sort_order`, `get_total_count`, `search_criteria` (one
object or a list; dot paths; `is`, `is not`, `contains`, `not contains`, `starts with`, `ends with`,
`between`, `greater than`, `lesser than`; `value` or `values`; `logical_operator`; `children`); notes
under `note` or `request_note`; `PUT .../_close`; status names configurable; missing or wrong key 401
with 4022; errors `{"response_status": {"status_code": 4000, "status": "failed", "messages": [...]}}`.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from tests.servers.helpdesk_http import Failure, FakeHelpDesk, Reply, Request
from tests.servers.test_ca import LoopbackTLS

# name, internal_name, in_progress, stop_timer
DEFAULT_STATUSES = (
    ("Open", "Open", True, False), ("In Progress", "In Progress", True, False), ("On Hold", "Onhold", False, True),
    ("Resolved", "Resolved", False, True), ("Closed", "Closed", False, True), ("Canceled", "Canceled", False, True),
)
PRIORITIES = ("Low", "Normal", "Medium", "High", "Urgent")
REFERENCE_FIELDS = ("status", "priority", "requester", "group", "category", "subcategory", "request_type",
                    "urgency", "impact", "technician", "site", "mode")
_PATH = re.compile(r"^/api/v3/requests(?:/(\d+))?(?:/(notes|_close|resolutions))?/?$")
_OK = {"status_code": 2000, "status": "success"}


def _time(ms: int | None = None) -> dict[str, str]:
    ms = ms if ms is not None else int(time.time() * 1000)
    shown = datetime.fromtimestamp(ms / 1000, UTC).strftime("%b %d, %Y %I:%M %p")
    return {"value": str(ms), "display_value": shown}


def failed(http_status: int, code: int, message: str, field: str | None = None, **extra: Any) -> Reply:
    entry: dict[str, Any] = {"status_code": code, "type": "failed", "message": message, **extra}
    if field:
        entry["field"] = field
    return Reply(http_status, {"response_status": {"status_code": 4000, "status": "failed", "messages": [entry]}})


def _get(record: Any, path: str) -> Any:
    for part in path.split("."):
        record = record.get(part) if isinstance(record, dict) else None
    return record


CONDITIONS = ("is", "is not", "contains", "not contains", "starts with", "ends with", "between", "greater than",
              "lesser than")
_TAG = re.compile(r"\[[^\[\]]*\]")  # a bracketed tag holding no brackets: indexed (lower case) for speed


def _test(condition: str, actual: Any, text: str, values: list[str]) -> bool:
    low = text.lower()
    if condition == "is":
        return text in values
    if condition == "is not":
        return text not in values
    if condition in ("contains", "not contains"):
        return any(v.lower() in low for v in values) == (condition == "contains")
    if condition == "starts with":
        return any(low.startswith(v.lower()) for v in values)
    if condition == "ends with":
        return any(low.endswith(v.lower()) for v in values)
    number = _number(actual)
    if condition == "between":
        return number is not None and _number(values[0]) <= number <= _number(values[1])
    if condition == "greater than":
        return bool((number or 0) > (_number(values[0]) or 0))
    return bool((number or 0) < (_number(values[0]) or 0))


def _condition(record: dict[str, Any], item: dict[str, Any]) -> bool:
    actual = _get(record, str(item.get("field", "")))
    text = "" if actual is None else str(actual.get("name", "") if isinstance(actual, dict) else actual)
    values = item.get("values") if "values" in item else [item.get("value")]
    condition = str(item.get("condition", "is")).lower()
    if condition not in CONDITIONS:
        raise ValueError(condition)
    result = _test(condition, actual, text, [str(v) for v in (values or [])])
    children = item.get("children") or []
    return _criteria(record, children, result) if children else result


def _number(value: Any) -> Any:
    if isinstance(value, dict):
        value = value.get("value")
    try:
        return int(str(value))
    except ValueError:
        return str(value)


def _criteria(record: dict[str, Any], items: list[dict[str, Any]], start: bool | None = None) -> bool:
    result = start
    for item in items:
        value = _condition(record, item)
        if result is None:
            result = value
        elif str(item.get("logical_operator", "AND")).upper() == "OR":
            result = result or value
        else:
            result = result and value
    return bool(result) if result is not None else True


class ServiceDeskPlusFake(FakeHelpDesk):
    title = "ServiceDesk Plus"

    def __init__(self, tls: LoopbackTLS, client_ca: Path | str | bytes | None = None, *,
                 technician_key: str = "SDP-TECH-KEY-0001",
                 statuses: tuple[tuple[str, str, bool, bool], ...] = DEFAULT_STATUSES,
                 udfs: tuple[str, ...] = ("udf_char1",)) -> None:
        super().__init__(tls, client_ca)
        self.technician_key = technician_key
        self.statuses = {name: {"id": str(900 + i), "name": name, "internal_name": internal,
                                "in_progress": in_progress, "stop_timer": stop, "color": "#0066ff"}
                         for i, (name, internal, in_progress, stop) in enumerate(statuses)}
        self.udfs = udfs
        self.closed_final = False
        self.mandatory: set[str] = {"subject"}
        self.requests: dict[str, dict[str, Any]] = {}
        self._index: dict[tuple[str, ...], dict[str, dict[str, Any]]] = {}
        self._keys: dict[str, set[tuple[str, ...]]] = {}
        self.note_rows: dict[str, list[dict[str, Any]]] = {}
        self._counter = 0

    # ---- state a test reads or sets -----------------------------------------------------------
    @property
    def tickets(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {k: json.loads(json.dumps(v)) for k, v in self.requests.items()}

    def notes(self, request_id: str) -> list[str]:
        return [n["description"] for n in self.note_rows.get(request_id, [])]

    def set_status(self, request_id: str, name: str) -> None:
        with self.lock:
            self._set_status(self.requests[request_id], self.statuses[name])

    # ---- HTTP ---------------------------------------------------------------------------------
    def failure_reply(self, status: int, failure: Failure) -> Reply:
        if status == 429:
            return failed(429, 4015, "API rate limit reached")
        return failed(status, 4004, "Internal error")

    def route(self, request: Request) -> Reply:
        key = request.headers.get("authtoken") or request.headers.get("technician_key")
        if key != self.technician_key:
            return failed(401, 4022, "Invalid API key received")
        match = _PATH.match(request.path)
        if match is None:
            return failed(404, 4007, "Invalid URL")
        try:
            data = self._input(request)
        except ValueError:
            return failed(400, 4000, "input_data is not valid JSON", field="input_data")
        request_id, action = match.groups()
        with self.lock:
            if request_id is None:
                return self._collection(request.method, data)
            record = self.requests.get(request_id)
            if record is None:
                return failed(404, 4007, "Resource not found", field="id")
            return self._one(request.method, record, action, data)

    def _input(self, request: Request) -> dict[str, Any]:
        raw = parse_qs(request.body.decode()).get("input_data") if request.body else None
        raw = raw or request.query.get("input_data")
        if not raw:
            return {}
        value = json.loads(raw[0])
        if not isinstance(value, dict):
            raise ValueError("not an object")
        return value

    def _collection(self, method: str, data: dict[str, Any]) -> Reply:
        if method == "GET":
            return self._list(data.get("list_info") or {})
        if method == "POST":
            return self._create(data.get("request") or {})
        return failed(405, 4000, f"{method} is not allowed here")

    def _one(self, method: str, record: dict[str, Any], action: str | None, data: dict[str, Any]) -> Reply:
        rid = record["id"]
        if action is None and method == "GET":
            return Reply(200, {"request": record, "response_status": _OK})
        if action is None and method == "DELETE":
            self._reindex(self.requests.pop(rid))
            return Reply(200, {"response_status": _OK})
        if action == "notes" and method == "GET":
            notes = self.note_rows.get(rid, [])
            return Reply(200, {"notes": notes, "list_info": {"has_more_rows": False, "row_count": len(notes)},
                               "response_status": [_OK]})
        if record["status"]["internal_name"] == "Closed" and self.closed_final and method != "GET":
            return failed(403, 4002, "Closed requests cannot be edited")
        if action is None and method == "PUT":
            return self._update(record, data.get("request") or {})
        if action == "notes" and method == "POST":
            return self._note(record, data)
        if action == "_close" and method == "PUT":
            self._set_status(record, self._internal("Closed"))
            record["closure_info"] = (data.get("request") or {}).get("closure_info") or {}
            return Reply(200, {"response_status": _OK, "messages": [
                {"status_code": 2000, "type": "success", "message": "Request(s) closed successfully."}]})
        if action == "resolutions" and method == "POST":
            record["resolution"] = {"content": str((data.get("resolution") or {}).get("content", ""))}
            return Reply(200, {"resolution": record["resolution"], "response_status": _OK})
        return failed(405, 4000, f"{method} is not allowed here")

    def _list(self, info: dict[str, Any]) -> Reply:
        try:
            row_count = int(info.get("row_count", 10))
            start = int(info.get("start_index", 1))
        except (TypeError, ValueError):
            return failed(400, 4021, "row_count and start_index must be numbers", field="list_info")
        if not 1 <= row_count <= 100 or start < 1:
            return failed(400, 4000, "row_count must be between 1 and 100", field="row_count")
        criteria = info.get("search_criteria") or []
        criteria = [criteria] if isinstance(criteria, dict) else criteria
        try:
            found = [r for r in self._candidates(criteria) if _criteria(r, criteria)]
        except ValueError as exc:
            return failed(400, 4000, f"unknown condition {exc}", field="search_criteria")
        sort_field = str(info.get("sort_field", "created_time"))
        found.sort(key=lambda r: _number(_get(r, sort_field)) if sort_field.endswith("time") or sort_field == "id"
                   else str(_get(r, sort_field) or ""), reverse=str(info.get("sort_order", "asc")) == "desc")
        page = found[start - 1:start - 1 + row_count]
        out_info: dict[str, Any] = {"has_more_rows": start - 1 + row_count < len(found), "start_index": start,
                                    "row_count": len(page), "sort_field": sort_field,
                                    "sort_order": info.get("sort_order", "asc"), "search_criteria": criteria}
        if info.get("get_total_count"):
            out_info["total_count"] = len(found)
        return Reply(200, {"requests": page, "list_info": out_info, "response_status": [_OK]})

    def _candidates(self, criteria: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The requests a search can match: narrowed by an index when every criterion is AND-ed and one is an
        `is` on the id or a UDF, or a `contains` of a bracketed tag in the subject (same result, faster)."""
        if any(str(c.get("logical_operator", "AND")).upper() == "OR" or c.get("children") for c in criteria[1:]) \
                or any(c.get("children") for c in criteria[:1]):
            return list(self.requests.values())
        for item in criteria:
            field, condition = str(item.get("field", "")), str(item.get("condition", "is")).lower()
            values = [str(v) for v in (item.get("values") if "values" in item else [item.get("value")]) or []]
            if condition == "is" and field == "id":
                return [self.requests[v] for v in dict.fromkeys(values) if v in self.requests]
            if condition == "is" and field.startswith("udf_fields."):
                return [r for v in values for r in self._index.get(("udf", field[11:], v), {}).values()]
            if condition == "contains" and field == "subject" and len(values) == 1 \
                    and _TAG.fullmatch(values[0]):
                return list(self._index.get(("tag", values[0].lower()), {}).values())
        return list(self.requests.values())

    def _reindex(self, record: dict[str, Any]) -> None:
        rid = record["id"]
        for key in self._keys.pop(rid, set()):
            self._index.get(key, {}).pop(rid, None)
        if rid not in self.requests:
            return
        keys = {("udf", k, str(v)) for k, v in (record.get("udf_fields") or {}).items() if v is not None}
        keys |= {("tag", t.lower()) for t in _TAG.findall(str(record.get("subject", "")))}
        for key in keys:
            self._index.setdefault(key, {})[rid] = record
        self._keys[rid] = keys

    def _reference(self, name: str, given: Any) -> dict[str, Any] | Reply:
        if not isinstance(given, dict) or not (given.get("name") or given.get("id") or given.get("email_id")):
            return failed(400, 4001, f"{name} must be an object with a name or id", field=name)
        if name == "status":
            found = next((s for s in self.statuses.values() if given.get("name") == s["name"]
                          or given.get("id") == s["id"]), None)
            return dict(found) if found else failed(400, 4001, f"Invalid value for status: {given}", field=name)
        if name == "priority":
            if given.get("name") not in PRIORITIES:
                return failed(400, 4001, f"Invalid value for priority: {given}", field=name)
            return {"id": str(300 + PRIORITIES.index(given["name"])), "name": given["name"], "color": "#ff0000"}
        if name == "requester":
            label = given.get("name") or given.get("email_id")
            return {"id": "4000", "name": label, "email_id": given.get("email_id"), "is_technician": False}
        return {"id": str(given.get("id") or abs(hash(given.get("name"))) % 10_000), "name": given.get("name")}

    def _apply(self, record: dict[str, Any], fields: dict[str, Any]) -> Reply | None:
        for name, value in fields.items():
            if name in ("id", "display_id", "created_time", "has_notes", "is_reopened"):
                return failed(400, 4014, f"{name} is read only", field=name)
            if name == "udf_fields":
                unknown = sorted(set(value or {}) - set(self.udfs))
                if unknown:
                    return failed(400, 4001, f"no such UDF {unknown[0]}", field=f"udf_fields.{unknown[0]}")
                record["udf_fields"].update({k: str(v) for k, v in (value or {}).items()})
            elif name in REFERENCE_FIELDS:
                ref = self._reference(name, value)
                if isinstance(ref, Reply):
                    return ref
                if name == "status":
                    if not self.take_refusal():
                        self._set_status(record, ref)
                else:
                    record[name] = ref
            elif name in ("subject", "description", "status_change_comments", "update_reason"):
                record[name] = str(value)
            else:
                return failed(400, 4000, f"unknown field {name}", field=name)
        record["last_updated_time"] = _time()
        return None

    def _internal(self, internal_name: str) -> dict[str, Any]:
        return next(s for s in self.statuses.values() if s["internal_name"] == internal_name)

    def _set_status(self, record: dict[str, Any], status: dict[str, Any]) -> None:
        """By internal name (what survives an admin renaming a status): leaving a done one is a reopen."""
        done = ("Resolved", "Closed", "Canceled")
        before = record["status"]["internal_name"] if record.get("status") else ""
        if before in done and status["internal_name"] not in done:
            record["is_reopened"] = True
        record["status"] = dict(status)
        if status["internal_name"] == "Resolved":
            record["resolved_time"] = _time()

    def _create(self, fields: dict[str, Any]) -> Reply:
        missing = sorted(f for f in self.mandatory if not fields.get(f))
        if missing:
            return failed(400, 4012, "Mandatory fields are missing", fields=missing)
        self._counter += 1
        rid = str(123640000000240000 + self._counter)
        record: dict[str, Any] = {
            "id": rid, "display_id": str(100 + self._counter), "subject": "", "description": "",
            "status": dict(self.statuses[next(iter(self.statuses))]), "priority": None,
            "requester": {"id": "4000", "name": "certvault API", "email_id": None, "is_technician": True},
            "created_time": _time(), "last_updated_time": _time(), "has_notes": False, "is_reopened": False,
            "udf_fields": dict.fromkeys(self.udfs), "category": None, "technician": None, "group": None,
        }
        error = self._apply(record, {k: v for k, v in fields.items() if k != "status"})
        if error is None and "status" in fields:
            ref = self._reference("status", fields["status"])
            if isinstance(ref, Reply):
                error = ref
            else:
                record["status"] = ref
        if error is not None:
            return error
        self.requests[rid] = record
        self._reindex(record)
        return Reply(201, {"request": record, "response_status": _OK})

    def _update(self, record: dict[str, Any], fields: dict[str, Any]) -> Reply:
        error = self._apply(record, fields)
        self._reindex(record)
        return error or Reply(200, {"request": record, "response_status": _OK})

    def _note(self, record: dict[str, Any], data: dict[str, Any]) -> Reply:
        key = "note" if "note" in data else "request_note"
        given = data.get(key)
        if not isinstance(given, dict) or not given.get("description"):
            return failed(400, 4012, "Mandatory fields are missing", fields=["description"])
        rows = self.note_rows.setdefault(record["id"], [])
        note = {"id": str(5000 + len(rows) + 1), "description": str(given["description"]),
                "show_to_requester": bool(given.get("show_to_requester", False)), "added_time": _time(),
                "added_by": {"id": "4000", "name": "certvault API"}}
        rows.append(note)
        record["has_notes"] = True
        return Reply(201, {key: note, "response_status": _OK})

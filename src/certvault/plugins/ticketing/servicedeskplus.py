"""ManageEngine ServiceDesk Plus (on-premise): requests through REST API v3 (`/api/v3/requests`).

The technician key travels in the `authtoken` header; `input_data` (JSON) in the form body of POST and
PUT and in the query string of GET. A ticket is created with `subject` = the subject, `description` =
the body (HTML: each line escaped, lines joined by `<br>`), `priority.name = High`, and the correlation
key in the UDF named by `correlation_udf` (e.g. `udf_char1`) or, without one, as a trailing subject tag
`[certvault:<key>]`; `find` searches that. Notes are request notes. Status is a name the admin can
rename: `open_status` and `resolved_status` are what certvault sets, `status_map` maps more names onto
certvault's states (names compare ignoring case, spaces and hyphens). A Closed request the server
refuses to edit makes `reopen` raise Conflict. Every status change is read back.
"""

from __future__ import annotations

import html
import json
from typing import Any, ClassVar

from pydantic import Field

from certvault.errors import Conflict, IntegrationError, InvalidInput, NotFound
from certvault.plugins.protocols import HttpClientFactory, RemoteTicket, SecretResolver, TicketDraft
from certvault.plugins.ticketing.base import (
    HelpDeskPlugin,
    MappedStatusOptions,
    batches,
    check_key,
    first_open,
    normalise,
    short,
    state_map,
)

API = "/api/v3/requests"
STATUS_NAMES = {"Open": "open", "In Progress": "in_progress", "On Hold": "on_hold", "Onhold": "on_hold",
                "Resolved": "resolved", "Closed": "closed", "Canceled": "canceled", "Cancelled": "canceled"}
REFUSED_EDIT = {4002, 4009}  # forbidden / non-editable: a Closed request under closing rules


class ServiceDeskPlusOptions(MappedStatusOptions):
    correlation_udf: str | None = Field(default=None, pattern=r"^udf_[a-z]+\d+$", description=(
        "UDF holding certvault's correlation key, e.g. udf_char1 (default: a [certvault:KEY] subject tag)"))
    requester: str | None = Field(default=None, max_length=200,
                                  description="requester email or name (default: the technician key's user)")
    group: str | None = Field(default=None, max_length=200, description="group of new requests")
    category: str | None = Field(default=None, max_length=200, description="category of new requests")
    open_status: str = Field(default="Open", min_length=1, max_length=100, description="status set on reopen")
    resolved_status: str = Field(default="Resolved", min_length=1, max_length=100,
                                 description="status set on resolve")

def as_html(text: str) -> str:
    return "<br>".join(html.escape(line) for line in text.split("\n"))


class ServiceDeskPlusHelpDesk(HelpDeskPlugin):
    name: ClassVar[str] = "servicedeskplus"
    title: ClassVar[str] = "ServiceDesk Plus"
    secret_fields: ClassVar[tuple[str, ...]] = ("technician_key",)
    Options = ServiceDeskPlusOptions
    options: ServiceDeskPlusOptions

    def __init__(self, options: ServiceDeskPlusOptions, secrets: SecretResolver,
                 http: HttpClientFactory | None = None) -> None:
        super().__init__(options, secrets, http)
        self._states = state_map(STATUS_NAMES, options.status_map)

    def client_headers(self) -> dict[str, str]:
        return {"Accept": "application/vnd.manageengine.sdp.v3+json", "authtoken": self._secrets("technician_key")}

    def call(self, method: str, path: str, what: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """The reply of one v3 call whose response_status says success; otherwise an error naming SDP's message."""
        encoded = {"input_data": json.dumps(data)} if data is not None else None
        if method == "GET":
            response = self.send(method, path, what, params=encoded)
        else:
            response = self.send(method, path, what, data=encoded)
        body = self.json(response, what) if response.content else {}
        body = body if isinstance(body, dict) else {}
        codes, text = _status(body)
        if response.status_code == 404 or 4007 in codes:
            raise NotFound(f"ServiceDesk Plus at {self.host}: {what}: no such request ({text or 'not found'})")
        if not response.is_success or 2000 not in codes:
            error = self.refuse(response, what, text)
            error.details["codes"] = sorted(codes)
            raise error
        return body

    # ---- reading ------------------------------------------------------------------------------
    def check(self) -> str:
        body = self.call("GET", API, "the connection test", {"list_info": {"row_count": 1, "start_index": 1}})
        return f"ServiceDesk Plus {self.host}: API v3 answered ({len(body.get('requests') or [])} request(s) read)"

    def _list(self, criteria: Any, rows: int, what: str) -> list[dict[str, Any]]:
        info = {"row_count": rows, "start_index": 1, "sort_field": "created_time", "sort_order": "desc",
                "search_criteria": criteria}
        found = self.call("GET", API, what, {"list_info": info}).get("requests") or []
        return [r for r in found if isinstance(r, dict)]

    def _tag(self, key: str) -> str:
        return f"[certvault:{key}]"

    def find(self, correlation_key: str) -> RemoteTicket | None:
        key = check_key(correlation_key)
        udf = self.options.correlation_udf
        if udf:
            criteria = {"field": f"udf_fields.{udf}", "condition": "is", "value": key}
            found = [r for r in self._list(criteria, 10, "the correlation search")
                     if str((r.get("udf_fields") or {}).get(udf) or "") == key]
        else:
            criteria = {"field": "subject", "condition": "contains", "value": self._tag(key)}
            found = [r for r in self._list(criteria, 10, "the correlation search")
                     if str(r.get("subject", "")).rstrip().endswith(self._tag(key))]
        return first_open([self._ticket(r) for r in found])

    def read(self, number: str) -> RemoteTicket:
        return self._ticket(self.call("GET", f"{API}/{_id(number)}", f"reading {number}").get("request") or {})

    def read_many(self, numbers: list[str]) -> dict[str, RemoteTicket]:
        out: dict[str, RemoteTicket] = {}
        for chunk in batches([_id(n) for n in numbers]):
            criteria = {"field": "id", "condition": "is", "values": chunk}
            for record in self._list(criteria, len(chunk), f"reading {len(chunk)} requests"):
                if str(record.get("id")) in chunk:
                    ticket = self._ticket(record)
                    out[ticket.number] = ticket
        return out

    def _ticket(self, record: dict[str, Any]) -> RemoteTicket:
        number = str(record.get("id") or "")
        if not number:
            raise IntegrationError(f"ServiceDesk Plus at {self.host} returned a request without an id")
        status = record.get("status") or {}
        name = str(status.get("name") or "") if isinstance(status, dict) else ""
        state = self._states.get(normalise(name)) or self._states.get(normalise(str(status.get("internal_name") or "")))
        return RemoteTicket(number=number, state=state or "in_progress", remote_status=name,
                            url=f"{self.options.url}/WorkOrder.do?woMode=viewWO&woID={number}")

    # ---- writing ------------------------------------------------------------------------------
    def create(self, draft: TicketDraft) -> RemoteTicket:
        key = check_key(draft.correlation_key)
        udf = self.options.correlation_udf
        request: dict[str, Any] = {
            "subject": draft.subject if udf else f"{draft.subject} {self._tag(key)}",
            "description": as_html(draft.body), "priority": {"name": "High"},
        }
        if udf:
            request["udf_fields"] = {udf: key}
        if self.options.requester:
            field = "email_id" if "@" in self.options.requester else "name"
            request["requester"] = {field: self.options.requester}
        for name in ("group", "category"):
            if getattr(self.options, name):
                request[name] = {"name": getattr(self.options, name)}
        record = self.call("POST", API, "creating a request", {"request": request}).get("request") or {}
        return self._ticket(record)

    def add_note(self, number: str, text: str) -> None:
        note = {"description": as_html(text), "show_to_requester": False, "notify_technician": True,
                "mark_first_response": False, "add_to_linked_requests": False}
        self.call("POST", f"{API}/{_id(number)}/notes", f"adding a note to {number}", {"note": note})

    def _set_status(self, number: str, status: str, note: str, state: str) -> RemoteTicket:
        change = {"request": {"status": {"name": status}, "status_change_comments": short(note, 240)}}
        self.call("PUT", f"{API}/{_id(number)}", f"setting {number} {status}", change)
        after = self.read(number)
        if after.state != state:
            raise self.refused_change(number, status, after.remote_status)
        return after

    def reopen(self, number: str, note: str) -> RemoteTicket:
        current = self.read(number)
        if current.state not in ("resolved", "closed", "canceled"):
            return current
        try:
            after = self._set_status(number, self.options.open_status, note, self._open_state())
        except IntegrationError as exc:
            codes = exc.details.get("codes")
            if isinstance(codes, list) and set(codes) & REFUSED_EDIT:
                raise Conflict(f"ServiceDesk Plus request {number} is {current.remote_status} and the server "
                               "refuses to reopen it, so a new one is needed") from None
            raise
        self.add_note(number, note)
        return after

    def resolve(self, number: str, note: str) -> RemoteTicket:
        current = self.read(number)
        if current.state in ("resolved", "closed", "canceled"):
            return current
        self.add_note(number, note)
        return self._set_status(number, self.options.resolved_status, note, "resolved")

    def _open_state(self) -> str:
        return self._states.get(normalise(self.options.open_status), "open")


def _id(number: str) -> str:
    if not number.isdigit() or len(number) > 30:
        raise InvalidInput(f"not a ServiceDesk Plus request id: {number[:40]!r}")
    return number


def _status(body: dict[str, Any]) -> tuple[set[int], str]:
    """Every status code in response_status (an object, or a list for lists) and its messages' text."""
    raw = body.get("response_status")
    entries = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else []
    codes: set[int] = set()
    texts: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("status_code"), int):
            codes.add(entry["status_code"])
        for message in entry.get("messages") or []:
            if isinstance(message, dict):
                if isinstance(message.get("status_code"), int):
                    codes.add(message["status_code"])
                field = f" ({message['field']})" if message.get("field") else ""
                texts.append(f"{message.get('message', '')}{field} [{message.get('status_code', '?')}]")
    return codes, "; ".join(texts)


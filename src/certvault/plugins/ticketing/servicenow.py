"""ServiceNow: incidents through the Table API (`/api/now/v2/table/incident`).

Auth is Basic (user name + password) or OAuth client credentials (`/oauth_token.do`, then Bearer; a
401 fetches a new token once). A ticket is created with `short_description` = the subject, one
`comments` entry = the body, `impact=1`, `urgency=2` (priority 2 - High by the default lookup rules)
and `correlation_id` = certvault's key (`correlation_display` = "certvault"), which `find` searches.
Notes go to `work_notes` (or `comments`, by option). States: 1 New, 2 In Progress, 3 On Hold,
6 Resolved, 7 Closed, 8 Canceled; only a Resolved incident can be reopened (to In Progress): Closed
and Canceled are final, so `reopen` raises Conflict there. Every status change is read back.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field

from certvault.errors import Conflict, IntegrationError, InvalidInput, NotFound
from certvault.plugins.protocols import HttpClientFactory, RemoteTicket, SecretResolver, TicketDraft
from certvault.plugins.ticketing.base import HelpDeskOptions, HelpDeskPlugin, batches, check_key, first_open

TABLE = "/api/now/v2/table/incident"
FIELDS = "sys_id,number,state,correlation_id,active"
STATES = {"1": "open", "2": "in_progress", "3": "on_hold", "6": "resolved", "7": "closed", "8": "canceled"}
NAMES = {"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed", "8": "Canceled"}
MAX_SHORT_DESCRIPTION = 160


class ServiceNowOptions(HelpDeskOptions):
    username: str | None = Field(default=None, max_length=200, description="user name for Basic auth (with --password)")
    client_id: str | None = Field(default=None, max_length=200,
                                  description="OAuth client id (with --client-secret) instead of a user name")
    close_code: str = Field(default="Solution provided", max_length=80, description="close_code set on resolve")
    note_field: Literal["work_notes", "comments"] = Field(default="work_notes",
                                                          description="journal that takes certvault's notes")
    assignment_group: str | None = Field(default=None, max_length=200,
                                         description="assignment group (name or sys_id) of new incidents")


class ServiceNowHelpDesk(HelpDeskPlugin):
    name: ClassVar[str] = "servicenow"
    title: ClassVar[str] = "ServiceNow"
    secret_fields: ClassVar[tuple[str, ...]] = ("password", "client_secret")
    required_secrets: ClassVar[tuple[str, ...]] = ()
    Options = ServiceNowOptions
    options: ServiceNowOptions

    def __init__(self, options: ServiceNowOptions, secrets: SecretResolver,
                 http: HttpClientFactory | None = None) -> None:
        super().__init__(options, secrets, http)
        self._sys_ids: dict[str, str] = {}
        self._token = ""

    @staticmethod
    def validate_secrets(options: ServiceNowOptions, secrets: dict[str, str]) -> None:
        basic = bool(options.username and secrets.get("password"))
        oauth = bool(options.client_id and secrets.get("client_secret"))
        if not (basic or oauth):
            raise InvalidInput("ServiceNow: give --username with --password, or --client-id with --client-secret")

    # ---- auth ---------------------------------------------------------------------------------
    def _oauth(self) -> bool:
        return bool(self.options.client_id and not (self.options.username and self._secrets("password")))

    def client_auth(self) -> Any:
        if self._oauth():
            return None
        return httpx.BasicAuth(self.options.username or "", self._secrets("password"))

    def _fetch_token(self) -> None:
        form = {"grant_type": "client_credentials", "client_id": self.options.client_id or "",
                "client_secret": self._secrets("client_secret")}
        response = self.send("POST", "/oauth_token.do", "the OAuth token request", data=form)
        body = self.json(response, "the OAuth token request") if response.is_success else {}
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise IntegrationError(f"ServiceNow at {self.host} refused the OAuth client credentials "
                                   f"(HTTP {response.status_code}); check client_id and client_secret")
        self._token = str(token)
        self.session().headers["Authorization"] = f"Bearer {self._token}"

    def call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        """The `result` of a Table API call; errors name the call and ServiceNow's message."""
        if self._oauth() and not self._token:
            self._fetch_token()
        response = self.send(method, path, what, **kwargs)
        if response.status_code == 401 and self._oauth():
            self._fetch_token()
            response = self.send(method, path, what, **kwargs)
        if not response.is_success:
            raise self.refuse(response, what, _error_text(response))
        body = self.json(response, what)
        if not isinstance(body, dict) or "result" not in body:
            raise IntegrationError(f"ServiceNow at {self.host} answered {what} without a result")
        return body["result"]

    # ---- reading ------------------------------------------------------------------------------
    def check(self) -> str:
        found = self.call("GET", TABLE, "the connection test",
                          params={"sysparm_limit": "1", "sysparm_fields": "number"})
        who = f"as {self.options.username}" if not self._oauth() else f"with OAuth client {self.options.client_id}"
        return f"ServiceNow {self.host}: Table API answered {who} ({len(found)} incident(s) read)"

    def _query(self, query: str, what: str, limit: int) -> list[dict[str, Any]]:
        params = {"sysparm_query": query, "sysparm_fields": FIELDS, "sysparm_limit": str(limit),
                  "sysparm_exclude_reference_link": "true", "sysparm_display_value": "false"}
        found = self.call("GET", TABLE, what, params=params)
        return [r for r in found if isinstance(r, dict)]

    def find(self, correlation_key: str) -> RemoteTicket | None:
        key = check_key(correlation_key)
        found = self._query(f"correlation_id={key}^ORDERBYDESCsys_created_on^ORDERBYDESCnumber",
                            "the correlation search", 10)
        # an ignored query term (a misspelt field) would match every incident: keep exact matches only
        return first_open([self._ticket(r) for r in found if r.get("correlation_id") == key])

    def read(self, number: str) -> RemoteTicket:
        found = [r for r in self._query(f"number={_number(number)}", f"reading {number}", 1)
                 if r.get("number") == number]
        if not found:
            raise NotFound(f"ServiceNow at {self.host} has no incident {number}")
        return self._ticket(found[0])

    def read_many(self, numbers: list[str]) -> dict[str, RemoteTicket]:
        out: dict[str, RemoteTicket] = {}
        for chunk in batches([_number(n) for n in numbers]):
            for record in self._query(f"numberIN{','.join(chunk)}", f"reading {len(chunk)} incidents",
                                      len(chunk)):
                if record.get("number") in chunk:
                    out[record["number"]] = self._ticket(record)
        return out

    def _ticket(self, record: dict[str, Any]) -> RemoteTicket:
        number, sys_id, state = str(record.get("number", "")), str(record.get("sys_id", "")), str(record.get("state"))
        if not number or not sys_id:
            raise IntegrationError(f"ServiceNow at {self.host} returned an incident without number or sys_id")
        self._sys_ids[number] = sys_id
        return RemoteTicket(number=number, state=STATES.get(state, "in_progress"),
                            url=f"{self.options.url}/nav_to.do?uri=incident.do%3Fsys_id%3D{sys_id}",
                            remote_status=NAMES.get(state, state))

    def _sys_id(self, number: str) -> str:
        if number not in self._sys_ids:
            self.read(number)
        return self._sys_ids[number]

    # ---- writing ------------------------------------------------------------------------------
    def create(self, draft: TicketDraft) -> RemoteTicket:
        key = check_key(draft.correlation_key)
        body = {"short_description": draft.subject[:MAX_SHORT_DESCRIPTION], "comments": draft.body,
                "impact": "1", "urgency": "2", "correlation_id": key, "correlation_display": "certvault"}
        if self.options.assignment_group:
            body["assignment_group"] = self.options.assignment_group
        params = {"sysparm_fields": FIELDS, "sysparm_exclude_reference_link": "true",
                  "sysparm_input_display_value": "true" if self.options.assignment_group else "false"}
        record = self.call("POST", TABLE, "creating an incident", json=body, params=params)
        if not isinstance(record, dict) or record.get("correlation_id") != key:
            raise IntegrationError(f"ServiceNow at {self.host} did not store the correlation id on the new incident "
                                   f"{record.get('number', '?') if isinstance(record, dict) else '?'}")
        return self._ticket(record)

    def _patch(self, number: str, body: dict[str, str], what: str) -> dict[str, Any]:
        record = self.call("PATCH", f"{TABLE}/{self._sys_id(number)}", what, json=body,
                           params={"sysparm_fields": FIELDS, "sysparm_exclude_reference_link": "true"})
        return record if isinstance(record, dict) else {}

    def _read_back(self, number: str) -> RemoteTicket:
        record = self.call("GET", f"{TABLE}/{self._sys_id(number)}", f"reading {number} back",
                           params={"sysparm_fields": FIELDS, "sysparm_exclude_reference_link": "true"})
        return self._ticket(record)

    def add_note(self, number: str, text: str) -> None:
        self._patch(number, {self.options.note_field: text}, f"adding a note to {number}")

    def reopen(self, number: str, note: str) -> RemoteTicket:
        current = self.read(number)
        if current.state in ("closed", "canceled"):
            raise Conflict(f"ServiceNow incident {number} is {current.remote_status}: ServiceNow reopens only "
                           "Resolved incidents, so a new one is needed")
        if current.state != "resolved":
            return current
        try:
            self._patch(number, {"state": "2", self.options.note_field: note}, f"reopening {number}")
        except IntegrationError as exc:
            if exc.details.get("status") == 403 and self.read(number).state in ("closed", "canceled"):
                raise Conflict(f"ServiceNow incident {number} was closed meanwhile; a new one is needed") from None
            raise
        after = self._read_back(number)
        if after.state != "in_progress":
            raise self.refused_change(number, "In Progress", after.remote_status)
        return after

    def resolve(self, number: str, note: str) -> RemoteTicket:
        current = self.read(number)
        if current.state in ("resolved", "closed", "canceled"):
            return current
        self._patch(number, {"state": "6", "close_code": self.options.close_code, "close_notes": note},
                    f"resolving {number}")
        after = self._read_back(number)
        if after.state != "resolved":
            raise self.refused_change(number, "Resolved", after.remote_status)
        return after


def _number(number: str) -> str:
    if not number or not all(c.isalnum() for c in number) or len(number) > 40:
        raise InvalidInput(f"not a ServiceNow incident number: {number[:40]!r}")
    return number


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return ""
    parts = [str(error.get("message") or ""), str(error.get("detail") or "")]
    return " - ".join(p for p in parts if p)


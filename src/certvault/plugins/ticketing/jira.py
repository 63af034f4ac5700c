"""Jira Cloud / Jira Service Management: issues through REST API v3 (or v2 for Server and Data Center).

Auth is Basic `email:api_token`. A ticket is an issue in `project` of type `issue_type` with `summary` =
the subject, `description` = the body (Atlassian Document Format on v3, one paragraph per line; plain
text on v2), priority High and the correlation key as a label, which `find` searches with JQL (`search/jql`;
`search` where a Data Center has no `search/jql`). Notes are comments. Status moves only through the
workflow's transitions, looked up at run time: `reopen` takes one that leaves the done category
(preferring one named Reopen) and raises Conflict when the workflow offers none; `resolve` takes one to
a done status (preferring Resolved, then Done). Statuses map onto certvault's by name (`status_map` adds
names), otherwise by status category. Every transition is read back.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import httpx
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
    state_map,
)

STATUS_NAMES = {
    "Open": "open", "To Do": "open", "New": "open", "Reopened": "open", "Backlog": "open",
    "Waiting for support": "open", "In Progress": "in_progress", "Work in progress": "in_progress",
    "In Review": "in_progress", "On Hold": "on_hold", "Pending": "on_hold", "Waiting for customer": "on_hold",
    "Blocked": "on_hold", "Resolved": "resolved", "Done": "resolved", "Closed": "closed", "Canceled": "canceled",
    "Cancelled": "canceled", "Declined": "canceled", "Won't Do": "canceled",
}
CATEGORIES = {"new": "open", "indeterminate": "in_progress", "done": "resolved"}
DONE = ("resolved", "closed", "canceled")
_MISSING_KEY = re.compile(r"An issue with key '([^']+)' does not exist")
_ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-\d+$")


class JiraOptions(MappedStatusOptions):
    email: str = Field(min_length=3, max_length=200, description="the account's email (with --api-token)")
    project: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,49}$", description="project key, e.g. SEC")
    api_version: int = Field(default=3, ge=2, le=3,
                             description="3: Jira Cloud (Atlassian Document Format); 2: Server / Data Center")
    issue_type: str = Field(default="Task", min_length=1, max_length=100, description="issue type of new issues")

def adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document, one paragraph per line."""
    return {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
        for line in text.split("\n")]}


def label_of(key: str) -> str:
    """The correlation key is the label itself (keys are one token; labels may not hold spaces)."""
    return check_key(key)


def _jql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class JiraHelpDesk(HelpDeskPlugin):
    name: ClassVar[str] = "jira"
    title: ClassVar[str] = "Jira"
    secret_fields: ClassVar[tuple[str, ...]] = ("api_token",)
    Options = JiraOptions
    options: JiraOptions

    def __init__(self, options: JiraOptions, secrets: SecretResolver, http: HttpClientFactory | None = None) -> None:
        super().__init__(options, secrets, http)
        self._states = state_map(STATUS_NAMES, options.status_map)
        self._api = f"/rest/api/{options.api_version}"
        self._search = "search/jql"

    def client_auth(self) -> Any:
        return httpx.BasicAuth(self.options.email, self._secrets("api_token"))

    def call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        response = self.send(method, f"{self._api}/{path}", what, **kwargs)
        if response.status_code == 404 and path.startswith("issue/"):
            raise NotFound(f"Jira at {self.host} has no issue {path.split('/')[1]}")
        if not response.is_success:
            error = self.refuse(response, what, _error_text(response))
            error.details["messages"] = _messages(response)
            raise error
        return self.json(response, what) if response.content else None

    def _text(self, text: str) -> Any:
        return adf(text) if self.options.api_version == 3 else text

    # ---- reading ------------------------------------------------------------------------------
    def check(self) -> str:
        me = self.call("GET", "myself", "the connection test") or {}
        try:
            self.call("GET", f"project/{self.options.project}", "reading the project")
        except IntegrationError as exc:
            raise IntegrationError(f"Jira at {self.host}: project {self.options.project} is not visible to "
                                   f"{self.options.email} ({exc.message})") from None
        return f"Jira {self.host}: signed in as {me.get('displayName') or self.options.email}, project " \
               f"{self.options.project}"

    def search(self, jql: str, limit: int, what: str) -> list[dict[str, Any]]:
        body = {"jql": jql, "fields": ["status", "labels"], "maxResults": limit}
        try:
            found = self.call("POST", self._search, what, json=body) or {}
        except IntegrationError as exc:
            if exc.details.get("status") != 404 or self._search == "search":
                raise
            self._search = "search"  # Server / Data Center: no search/jql
            found = self.call("POST", self._search, what, json=body) or {}
        return [i for i in found.get("issues") or [] if isinstance(i, dict)]

    def find(self, correlation_key: str) -> RemoteTicket | None:
        label = label_of(correlation_key)
        jql = f"project = {_jql_string(self.options.project)} AND labels = {_jql_string(label)} ORDER BY created DESC"
        found = [i for i in self.search(jql, 10, "the correlation search")
                 if label in ((i.get("fields") or {}).get("labels") or [])]
        return first_open([self._ticket(i) for i in found])

    def read(self, number: str) -> RemoteTicket:
        return self._ticket(self.call("GET", f"issue/{_key(number)}", f"reading {number}",
                                      params={"fields": "status,labels"}) or {})

    def read_many(self, numbers: list[str]) -> dict[str, RemoteTicket]:
        out: dict[str, RemoteTicket] = {}
        for chunk in batches([_key(n) for n in numbers]):
            for issue in self._search_keys(chunk):
                ticket = self._ticket(issue)
                out[ticket.number] = ticket
        return out

    def _search_keys(self, keys: list[str]) -> list[dict[str, Any]]:
        """Jira refuses a `key in (...)` naming an issue that no longer exists: drop those and ask again."""
        while keys:
            try:
                return self.search(f"key in ({', '.join(keys)})", len(keys), f"reading {len(keys)} issues")
            except IntegrationError as exc:
                messages = exc.details.get("messages")
                texts = [str(m) for m in messages] if isinstance(messages, list) else []
                gone = {m.group(1) for text in texts for m in _MISSING_KEY.finditer(text)}
                if exc.details.get("status") != 400 or not gone & set(keys):
                    raise
                keys = [k for k in keys if k not in gone]
        return []

    def _ticket(self, issue: dict[str, Any]) -> RemoteTicket:
        key = str(issue.get("key") or "")
        if not key:
            raise IntegrationError(f"Jira at {self.host} returned an issue without a key")
        status = (issue.get("fields") or {}).get("status") or {}
        return RemoteTicket(number=key, state=self._state_of(status), url=f"{self.options.url}/browse/{key}",
                            remote_status=str(status.get("name") or ""))

    def _state_of(self, status: dict[str, Any]) -> str:
        named = self._states.get(normalise(str(status.get("name") or "")))
        category = str((status.get("statusCategory") or {}).get("key") or "")
        return named or CATEGORIES.get(category, "in_progress")

    # ---- writing ------------------------------------------------------------------------------
    def create(self, draft: TicketDraft) -> RemoteTicket:
        fields = {"project": {"key": self.options.project}, "issuetype": {"name": self.options.issue_type},
                  "summary": draft.subject[:255], "description": self._text(draft.body),
                  "priority": {"name": "High"}, "labels": [label_of(draft.correlation_key)]}
        created = self.call("POST", "issue", "creating an issue", json={"fields": fields}) or {}
        if not created.get("key"):
            raise IntegrationError(f"Jira at {self.host} created an issue but did not name its key")
        return self.read(str(created["key"]))

    def add_note(self, number: str, text: str) -> None:
        self.call("POST", f"issue/{_key(number)}/comment", f"adding a comment to {number}",
                  json={"body": self._text(text)})

    def _transitions(self, number: str) -> list[dict[str, Any]]:
        found = self.call("GET", f"issue/{_key(number)}/transitions", f"reading the transitions of {number}") or {}
        return [t for t in found.get("transitions") or [] if isinstance(t, dict) and t.get("id")]

    def _move(self, number: str, transition: dict[str, Any], note: str) -> RemoteTicket:
        body = {"transition": {"id": str(transition["id"])},
                "update": {"comment": [{"add": {"body": self._text(note)}}]}}
        self.call("POST", f"issue/{_key(number)}/transitions", f"moving {number} to {_target(transition)}", json=body)
        return self.read(number)

    def reopen(self, number: str, note: str) -> RemoteTicket:
        current = self.read(number)
        if current.state not in DONE:
            return current
        candidates = [t for t in self._transitions(number) if self._state_of(t.get("to") or {}) not in DONE]
        if not candidates:
            raise Conflict(f"Jira issue {number} is {current.remote_status} and its workflow offers no transition "
                           "out of it, so a new one is needed")
        candidates.sort(key=lambda t: ("reopen" not in normalise(str(t.get("name"))),
                                       self._state_of(t.get("to") or {}) != "open"))
        after = self._move(number, candidates[0], note)
        if after.state in DONE:
            raise self.refused_change(number, _target(candidates[0]), after.remote_status)
        return after

    def resolve(self, number: str, note: str) -> RemoteTicket:
        current = self.read(number)
        if current.state in DONE:
            return current
        ranked = {"resolved": 0, "closed": 1}
        candidates = [t for t in self._transitions(number) if self._state_of(t.get("to") or {}) in ranked]
        if not candidates:
            raise IntegrationError(f"Jira issue {number} is {current.remote_status} and its workflow offers no "
                                   "transition to Resolved or Done from there")
        candidates.sort(key=lambda t: ranked[self._state_of(t.get("to") or {})])
        after = self._move(number, candidates[0], note)
        if after.state not in ranked:
            raise self.refused_change(number, _target(candidates[0]), after.remote_status)
        return after


def _key(number: str) -> str:
    if not _ISSUE_KEY.match(number or "") or len(number) > 60:
        raise InvalidInput(f"not a Jira issue key: {(number or '')[:40]!r}")
    return number


def _target(transition: dict[str, Any]) -> str:
    return str((transition.get("to") or {}).get("name") or transition.get("name") or "?")


def _messages(response: Any) -> list[str]:
    try:
        body = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    errors = body.get("errors")
    errors = errors if isinstance(errors, dict) else {}
    return [str(m) for m in body.get("errorMessages") or []] + [f"{k}: {v}" for k, v in errors.items()]


def _error_text(response: Any) -> str:
    return "; ".join(_messages(response))

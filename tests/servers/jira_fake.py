"""A stateful fake of Jira Cloud / Jira Service Management REST (v2 and v3): issues, comments, workflow
transitions and JQL search.

    fake = JiraFake(tls, client_ca=ca_pem).start()   # client_ca: require a client certificate
    fake.url                         # the site URL, https://127.0.0.1:PORT
    fake.email, fake.api_token       # Basic auth email:api_token
    fake.project                     # the one project key ("SEC")
    fake.tickets                     # {key: {"summary", "description", "status", "priority", "labels", ...}}
    fake.comments("SEC-1")           # the comments' text, oldest first
    fake.set_status("SEC-1", "Closed")   # what a technician does
    fake.reopen_from = {"Resolved"}  # statuses the "Reopen" transition leaves from (default Resolved, Closed)
    fake.calls, fake.fail_next(kind, count)   # see tests/servers/helpdesk_http.py

Faithful to the research note (../shared/research/integrations.md §3) and to what the `jira` library
calls: `/rest/api/{2,3}/serverInfo` (deploymentType Cloud), `myself`, `field`, `project/{key}`;
`POST issue` answers 201 `{"id", "key", "self"}`; v3 takes and returns descriptions and comment bodies as
Atlassian Document Format (a plain string is refused with 400), v2 as plain strings; status moves only
through `GET/POST issue/{key}/transitions` (ids looked up at run time; the POST answers 204, takes
`fields` and `update.comment`); `search/jql` (GET or POST) answers `{"issues", "isLast", "nextPageToken"}`
without `total`, while the old `search` answers 410 on Cloud (`cloud=False`: a Data Center without
`search/jql`, 404 there, and `search` served); JQL with `=`, `!=`, `~`, `in`, `not in`,
`AND`, `OR`, parentheses and `ORDER BY`; an unknown field, or a `key in (...)` naming an issue that does
not exist, is a 400; errors are `{"errorMessages": [...], "errors": {field: message}}`; labels may not
hold spaces; priority by name.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.servers.helpdesk_http import Failure, FakeHelpDesk, Reply, Request
from tests.servers.test_ca import LoopbackTLS

CATEGORIES = {"new": (2, "To Do", "blue-gray"), "indeterminate": (4, "In Progress", "yellow"),
              "done": (3, "Done", "green")}
STATUSES = {"Open": ("1", "new"), "In Progress": ("3", "indeterminate"), "On Hold": ("10001", "indeterminate"),
            "Resolved": ("5", "done"), "Closed": ("6", "done"), "Canceled": ("10002", "done")}
ACTIVE = ("Open", "In Progress", "On Hold")
PRIORITIES = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
FIELDS = ("summary", "description", "status", "priority", "labels", "project", "issuetype", "created", "updated",
          "resolution", "comment")
JQL_FIELDS = {"project", "key", "issuekey", "id", "labels", "status", "statuscategory", "summary", "priority",
              "text", "resolution"}
_PATH = re.compile(r"^/rest/api/(2|3)/(.+?)/?$")
_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<op>!=|!~|=|~|\(|\)|,)|'
                    r'(?P<word>[^\s=!~(),"\']+))')


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _errors(status: int, *messages: str, **fields: str) -> Reply:
    return Reply(status, {"errorMessages": list(messages), "errors": fields})


def adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document: one paragraph per line."""
    return {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
        for line in text.split("\n")]}


def adf_text(doc: Any) -> str | None:
    """The text of an Atlassian Document (paragraphs joined by newlines); None when it is not one."""
    if not isinstance(doc, dict) or doc.get("type") != "doc" or not isinstance(doc.get("content"), list):
        return None
    lines = []
    for block in doc["content"]:
        parts = block.get("content", []) if isinstance(block, dict) else []
        lines.append("".join(str(p.get("text", "")) for p in parts if isinstance(p, dict)))
    return "\n".join(lines)


class JqlError(ValueError):
    pass


class _Jql:
    """Just enough JQL: clauses `field op value`, AND/OR, parentheses, ORDER BY."""

    def __init__(self, text: str) -> None:
        order = re.search(r"\border\s+by\b(.*)$", text, re.I | re.S)
        self.order = order.group(1).strip() if order else ""
        body = text[:order.start()] if order else text
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(body.rstrip()):
            match = _TOKEN.match(body, position)
            if match is None or match.end() == position:
                raise JqlError(f"Error in the JQL Query: unexpected character at position {position}.")
            kind = match.lastgroup or "word"
            value = match.group(kind)
            if kind == "str":
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            self.tokens.append((kind, value))
            position = match.end()
        self.at = 0
        self.clauses: list[Clause] = []
        self.simple = True  # only AND-ed clauses: an index may narrow the issues looked at

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.at += 1
        return token

    def word(self, *words: str) -> bool:
        kind, value = self.peek()
        if kind == "word" and value.lower() in words:
            self.at += 1
            return True
        return False

    def parse(self) -> Any:
        if not self.tokens:
            return lambda issue: True
        tree = self.disjunction()
        if self.peek()[0] != "end":
            raise JqlError(f"Error in the JQL Query: expecting end of query but got '{self.peek()[1]}'.")
        return tree

    def disjunction(self) -> Any:
        parts = [self.conjunction()]
        while self.word("or"):
            self.simple = False
            parts.append(self.conjunction())
        return lambda issue: any(p(issue) for p in parts)

    def conjunction(self) -> Any:
        parts = [self.unary()]
        while self.word("and"):
            parts.append(self.unary())
        return lambda issue: all(p(issue) for p in parts)

    def unary(self) -> Any:
        if self.word("not"):
            self.simple = False
            inner = self.unary()
            return lambda issue: not inner(issue)
        if self.peek() == ("op", "("):
            self.take()
            self.simple = False
            inner = self.disjunction()
            if self.take() != ("op", ")"):
                raise JqlError("Error in the JQL Query: expecting ')'.")
            return inner
        return self.clause()

    def clause(self) -> Any:
        kind, name = self.take()
        if kind != "word" and kind != "str":
            raise JqlError(f"Error in the JQL Query: expecting a field name but got '{name}'.")
        field = name.lower()
        if field not in JQL_FIELDS:
            raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")
        if self.word("in"):
            op = "in"
        elif self.word("not"):
            if not self.word("in"):
                raise JqlError("Error in the JQL Query: expecting 'in' after 'not'.")
            op = "not in"
        elif self.word("is"):
            op = "is not" if self.word("not") else "is"
        else:
            kind, op = self.take()
            if kind != "op" or op not in ("=", "!=", "~", "!~"):
                raise JqlError(f"Error in the JQL Query: expecting an operator after '{name}'.")
        values = self.values() if op in ("in", "not in") else [self.take()[1]]
        clause = Clause(field, op, values)
        self.clauses.append(clause)
        return clause

    def values(self) -> list[str]:
        if self.take() != ("op", "("):
            raise JqlError("Error in the JQL Query: expecting '(' after 'in'.")
        values = []
        while True:
            kind, value = self.take()
            if kind not in ("word", "str"):
                raise JqlError("Error in the JQL Query: expecting a value.")
            values.append(value)
            separator = self.take()
            if separator == ("op", ")"):
                return values
            if separator != ("op", ","):
                raise JqlError("Error in the JQL Query: expecting ',' or ')'.")


class Clause:
    def __init__(self, field: str, op: str, values: list[str]) -> None:
        self.field, self.op, self.values = field, op, values

    def actual(self, issue: dict[str, Any]) -> list[str]:
        status = issue["status"]
        by_field = {
            "project": [issue["project"]], "key": [issue["key"]], "issuekey": [issue["key"]], "id": [issue["id"]],
            "labels": list(issue["labels"]), "status": [status, STATUSES[status][0]],
            "statuscategory": [STATUSES[status][1], CATEGORIES[STATUSES[status][1]][1]],
            "summary": [issue["summary"]], "text": [issue["summary"], issue["description"]],
            "priority": [issue["priority"]], "resolution": [issue["resolution"] or "empty"],
        }
        return [v.lower() for v in by_field[self.field]]

    def __call__(self, issue: dict[str, Any]) -> bool:
        actual, wanted = self.actual(issue), [v.lower() for v in self.values]
        if self.op in ("~", "!~"):
            found = any(w in a for w in wanted for a in actual)
            return found if self.op == "~" else not found
        if self.op in ("is", "is not"):
            empty = not actual or actual == ["empty"] or actual == [""]
            return empty if self.op == "is" else not empty
        hit = any(w in actual for w in wanted)
        return hit if self.op in ("=", "in") else not hit


class JiraFake(FakeHelpDesk):
    title = "Jira"

    def __init__(self, tls: LoopbackTLS, client_ca: Path | str | bytes | None = None, *,
                 email: str = "certvault@example.com", api_token: str = "jira-api-token-1",
                 project: str = "SEC", cloud: bool = True) -> None:
        super().__init__(tls, client_ca)
        self.email, self.api_token, self.project, self.cloud = email, api_token, project, cloud
        self.reopen_from = {"Resolved", "Closed"}
        self.issues: dict[str, dict[str, Any]] = {}
        self._labels: dict[str, dict[str, dict[str, Any]]] = {}  # lower-case label -> key -> issue
        self._counter = 0

    # ---- state a test reads or sets -----------------------------------------------------------
    @property
    def tickets(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {k: {**v, "labels": list(v["labels"]), "comments": list(v["comments"])}
                    for k, v in self.issues.items()}

    def comments(self, key: str) -> list[str]:
        return [c["text"] for c in self.issues[key]["comments"]]

    def set_status(self, key: str, status: str) -> None:
        with self.lock:
            self._move(self.issues[key], status)

    def transitions_of(self, status: str) -> list[tuple[str, str, str]]:
        """(id, name, target status) of the transitions available from `status`."""
        table = [("11", "Start Progress", "In Progress", set(ACTIVE) - {"In Progress"}),
                 ("21", "Put on hold", "On Hold", set(ACTIVE) - {"On Hold"}),
                 ("31", "Resolve", "Resolved", set(ACTIVE)),
                 ("41", "Close", "Closed", {*ACTIVE, "Resolved"}),
                 ("51", "Reopen", "Open", self.reopen_from),
                 ("61", "Cancel", "Canceled", set(ACTIVE))]
        return [(tid, name, target) for tid, name, target, sources in table if status in sources]

    # ---- HTTP ---------------------------------------------------------------------------------
    def failure_reply(self, status: int, failure: Failure) -> Reply:
        if status == 429:
            return _errors(429, "Rate limit exceeded.")
        return _errors(status, f"Internal server error ({status}).")

    def _authenticated(self, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            email, _, token = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return False
        return (email, token) == (self.email, self.api_token)

    def route(self, request: Request) -> Reply:
        match = _PATH.match(request.path)
        if match is None:
            return _errors(404, "Not found")
        if not self._authenticated(request.headers):
            return _errors(401, "You are not authenticated. Authentication required to perform this operation.")
        version, rest = int(match.group(1)), match.group(2)
        with self.lock:
            return self._api(request, version, rest.split("/"))

    def _api(self, request: Request, version: int, parts: list[str]) -> Reply:
        method = request.method
        if parts == ["serverInfo"]:
            return Reply(200, {"baseUrl": self.url, "version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0],
                               "deploymentType": "Cloud" if self.cloud else "Server", "buildNumber": 100300,
                               "serverTitle": "Jira (fake)"})
        if parts == ["myself"]:
            return Reply(200, {"accountId": "5b10ac8d82e05b22cc7d4ef5", "emailAddress": self.email,
                               "displayName": "certvault", "active": True})
        if parts == ["field"]:
            return Reply(200, [{"id": f, "key": f, "name": f.capitalize(), "custom": False, "navigable": True,
                                "searchable": True, "clauseNames": [f]} for f in FIELDS])
        if parts[0] == "project" and len(parts) == 2:
            if parts[1] not in (self.project, "10000"):
                return _errors(404, "No project could be found with key '" + parts[1] + "'.")
            return Reply(200, {"id": "10000", "key": self.project, "name": "Security", "self": f"{self.url}/x"})
        if parts in (["search", "jql"], ["search"]):
            if parts == ["search", "jql"] and not self.cloud:
                return _errors(404, "null for uri: " + request.path)
            if parts == ["search"] and self.cloud:
                return _errors(410, "The requested API has been removed. Please migrate to the /rest/api/3/search/jql "
                                    "API. A full migration guideline is available at https://developer.atlassian.com"
                                    "/changelog/#CHANGE-2046")
            return self._search(request, version, classic=parts == ["search"])
        if parts == ["issue"] and method == "POST":
            return self._create(request, version)
        if parts[0] == "issue" and len(parts) >= 2:
            issue = self._issue(parts[1])
            if issue is None:
                return _errors(404, "Issue does not exist or you do not have permission to see it.")
            return self._on_issue(request, version, issue, parts[2:])
        return _errors(404, "Not found")

    def _issue(self, ref: str) -> dict[str, Any] | None:
        return self.issues.get(ref.upper()) or next((i for i in self.issues.values() if i["id"] == ref), None)

    def _on_issue(self, request: Request, version: int, issue: dict[str, Any], rest: list[str]) -> Reply:
        method = request.method
        if not rest and method == "GET":
            return Reply(200, self.render(issue, version, _fields_wanted(request)))
        if not rest and method == "PUT":
            return self._edit(request, version, issue)
        if rest == ["comment"] and method == "GET":
            shown = [self._comment(c, version) for c in issue["comments"]]
            return Reply(200, {"comments": shown, "maxResults": len(shown), "total": len(shown), "startAt": 0})
        if rest == ["comment"] and method == "POST":
            body = _json(request)
            text = self._text(body.get("body") if isinstance(body, dict) else None, version)
            if text is None or not text.strip():
                return Reply(400, {"errorMessages": [], "errors": {"comment": "Comment body can not be empty!"}})
            return Reply(201, self._comment(self._add_comment(issue, text), version))
        if rest == ["transitions"] and method == "GET":
            return Reply(200, {"expand": "transitions", "transitions": [
                {"id": tid, "name": name, "to": _status(target, self.url), "hasScreen": False, "isGlobal": False,
                 "isInitial": False, "isAvailable": True, "isConditional": False, "isLooped": False}
                for tid, name, target in self.transitions_of(issue["status"])]})
        if rest == ["transitions"] and method == "POST":
            return self._transition(request, version, issue)
        return _errors(405, "Method not allowed")

    def _text(self, value: Any, version: int) -> str | None:
        if version == 3:
            return adf_text(value)
        return value if isinstance(value, str) else None

    def _create(self, request: Request, version: int) -> Reply:
        body = _json(request)
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            return _errors(400, "Field 'fields' is required.")
        problems = self._check_fields(fields, version, creating=True)
        if problems:
            return Reply(400, {"errorMessages": [], "errors": problems})
        self._counter += 1
        key = f"{self.project}-{self._counter}"
        issue = {"id": str(10000 + self._counter), "key": key, "project": self.project, "summary": "",
                 "description": "", "status": "Open", "priority": "Medium", "labels": [], "issuetype": "Task",
                 "resolution": None, "created": _now(), "updated": _now(), "comments": []}
        self._write(issue, fields, version)
        self.issues[key] = issue
        return Reply(201, {"id": issue["id"], "key": key, "self": f"{self.url}/rest/api/{version}/issue/{issue['id']}"})

    def _check_fields(self, fields: dict[str, Any], version: int, creating: bool = False) -> dict[str, str]:
        problems = {}
        if creating:
            project = fields.get("project") or {}
            if not isinstance(project, dict) or (project.get("key") != self.project and project.get("id") != "10000"):
                problems["project"] = "Specify a valid project ID or key"
            issuetype = fields.get("issuetype") or {}
            if not isinstance(issuetype, dict) or not (issuetype.get("name") or issuetype.get("id")):
                problems["issuetype"] = "Specify an issue type"
            if not fields.get("summary"):
                problems["summary"] = "You must specify a summary of the issue."
        if "summary" in fields and len(str(fields["summary"])) > 255:
            problems["summary"] = "Summary must be less than 255 characters."
        if "description" in fields and fields["description"] is not None \
                and self._text(fields["description"], version) is None:
            problems["description"] = ("Operation value must be an Atlassian Document (see the Atlassian Document "
                                       "Format)" if version == 3 else "Operation value must be a string")
        priority = fields.get("priority")
        if priority is not None and (not isinstance(priority, dict) or (
                priority.get("name") not in PRIORITIES and priority.get("id") not in PRIORITIES.values())):
            problems["priority"] = "Specify the Priority (id or name) in the string format"
        labels = fields.get("labels")
        if labels is not None:
            bad = [str(label) for label in labels if not str(label) or any(c.isspace() for c in str(label))] \
                if isinstance(labels, list) else ["labels"]
            if bad:
                problems["labels"] = f"The label '{bad[0]}' contains spaces which is invalid."
        return problems

    def _write(self, issue: dict[str, Any], fields: dict[str, Any], version: int) -> None:
        if "summary" in fields:
            issue["summary"] = str(fields["summary"])
        if "description" in fields:
            issue["description"] = self._text(fields["description"], version) or ""
        if fields.get("priority"):
            given = fields["priority"]
            issue["priority"] = given.get("name") or next(n for n, i in PRIORITIES.items() if i == given.get("id"))
        if fields.get("issuetype"):
            issue["issuetype"] = fields["issuetype"].get("name") or "Task"
        if "labels" in fields:
            for label in issue["labels"]:
                self._labels.get(label.lower(), {}).pop(issue["key"], None)
            issue["labels"] = [str(label) for label in fields["labels"] or []]
            for label in issue["labels"]:
                self._labels.setdefault(label.lower(), {})[issue["key"]] = issue
        issue["updated"] = _now()

    def _edit(self, request: Request, version: int, issue: dict[str, Any]) -> Reply:
        body = _json(request)
        fields = (body.get("fields") if isinstance(body, dict) else None) or {}
        problems = self._check_fields(fields, version)
        if problems:
            return Reply(400, {"errorMessages": [], "errors": problems})
        self._write(issue, fields, version)
        for op in (body.get("update") or {}).get("comment", []) if isinstance(body, dict) else []:
            text = self._text((op.get("add") or {}).get("body"), version)
            if text:
                self._add_comment(issue, text)
        return Reply(204)

    def _transition(self, request: Request, version: int, issue: dict[str, Any]) -> Reply:
        body = _json(request)
        wanted = str(((body or {}).get("transition") or {}).get("id", "")) if isinstance(body, dict) else ""
        target = next((t for tid, _, t in self.transitions_of(issue["status"]) if tid == wanted), None)
        if target is None:
            return _errors(400, f"Transition id '{wanted}' is not valid for this issue.")
        for op in (body.get("update") or {}).get("comment", []):
            text = self._text((op.get("add") or {}).get("body"), version)
            if text:
                self._add_comment(issue, text)
        if not self.take_refusal():
            self._move(issue, target)
        return Reply(204)

    def _move(self, issue: dict[str, Any], status: str) -> None:
        issue["status"] = status
        issue["resolution"] = "Done" if STATUSES[status][1] == "done" else None
        issue["updated"] = _now()

    def _add_comment(self, issue: dict[str, Any], text: str) -> dict[str, Any]:
        comment = {"id": str(20000 + sum(len(i["comments"]) for i in self.issues.values()) + 1), "text": text,
                   "created": _now()}
        issue["comments"].append(comment)
        issue["updated"] = comment["created"]
        return comment

    def _comment(self, comment: dict[str, Any], version: int) -> dict[str, Any]:
        body: Any = adf(comment["text"]) if version == 3 else comment["text"]
        return {"id": comment["id"], "body": body, "created": comment["created"], "updated": comment["created"],
                "author": {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "certvault"},
                "self": f"{self.url}/rest/api/{version}/comment/{comment['id']}"}

    def render(self, issue: dict[str, Any], version: int, wanted: set[str] | None) -> dict[str, Any]:
        description: Any = issue["description"]
        if version == 3:
            description = adf(description) if description else None
        every = {
            "summary": issue["summary"], "description": description, "status": _status(issue["status"], self.url),
            "priority": {"name": issue["priority"], "id": PRIORITIES[issue["priority"]]},
            "labels": list(issue["labels"]),
            "project": {"id": "10000", "key": self.project, "name": "Security"},
            "issuetype": {"id": "10002", "name": issue["issuetype"]}, "created": issue["created"],
            "updated": issue["updated"],
            "resolution": {"name": issue["resolution"]} if issue["resolution"] else None,
            "comment": {"comments": [self._comment(c, version) for c in issue["comments"]],
                        "maxResults": len(issue["comments"]), "total": len(issue["comments"]), "startAt": 0},
        }
        fields = {k: v for k, v in every.items() if wanted is None or k in wanted}
        return {"id": issue["id"], "key": issue["key"], "self": f"{self.url}/rest/api/{version}/issue/{issue['id']}",
                "fields": fields}

    def _search(self, request: Request, version: int, classic: bool = False) -> Reply:
        if request.method == "POST":
            body = _json(request)
            if not isinstance(body, dict):
                return _errors(400, "Invalid request payload.")
            jql, token = str(body.get("jql", "")), str(body.get("nextPageToken") or "")
            fields = body.get("fields")
            wanted = _wanted(fields if isinstance(fields, list) else None)
            limit = body.get("maxResults", 50)
        else:
            jql, token = request.arg("jql"), request.arg("nextPageToken")
            wanted, limit = _fields_wanted(request, default=set()), request.arg("maxResults", "50")
        try:
            limit = max(0, min(100, int(limit)))
            query = _Jql(jql)
            match = query.parse()
            self._keys_exist(jql)
        except JqlError as exc:
            return _errors(400, str(exc))
        except (TypeError, ValueError):
            return _errors(400, "maxResults must be a number.")
        found = [i for i in sorted(self._candidates(query), key=lambda i: -int(i["id"])) if match(i)]
        start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        if classic:  # Server / Data Center: startAt paging and a total
            start = int(request.arg("startAt", "0") or 0) if request.method == "GET" else \
                int((_json(request) or {}).get("startAt") or 0)
        page = found[start:start + limit]
        more = start + limit < len(found)
        shown = [self.render(i, version, wanted) for i in page]
        if classic:
            return Reply(200, {"startAt": start, "maxResults": limit, "total": len(found), "issues": shown})
        out: dict[str, Any] = {"issues": shown, "isLast": not more}
        if more:
            out["nextPageToken"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
        return Reply(200, out)

    def _candidates(self, query: _Jql) -> list[dict[str, Any]]:
        """The issues a query can match, narrowed by key or label when its clauses are only AND-ed (same
        result, faster)."""
        if query.simple:
            for clause in query.clauses:
                if clause.field in ("key", "issuekey") and clause.op in ("=", "in"):
                    return [self.issues[v.upper()] for v in dict.fromkeys(clause.values) if v.upper() in self.issues]
                if clause.field == "labels" and clause.op == "=":
                    wanted = clause.values[0]
                    return [i for i in self._labels.get(wanted.lower(), {}).values() if i["key"] in self.issues]
        return list(self.issues.values())

    def _keys_exist(self, jql: str) -> None:
        """Jira refuses a query naming an issue key that does not exist."""
        for clause in re.finditer(r"\b(?:key|issuekey)\s+(?:in\s*\(([^)]*)\)|=\s*(\S+))", jql, re.I):
            for key in re.split(r"\s*,\s*", (clause.group(1) or clause.group(2) or "").strip()):
                key = key.strip("\"'").upper()
                if key and self._issue(key) is None:
                    raise JqlError(f"An issue with key '{key}' does not exist for field 'key'.")


def _status(name: str, url: str) -> dict[str, Any]:
    sid, category = STATUSES[name]
    cid, cname, colour = CATEGORIES[category]
    return {"self": f"{url}/rest/api/2/status/{sid}", "description": "", "iconUrl": "", "name": name, "id": sid,
            "statusCategory": {"id": cid, "key": category, "colorName": colour, "name": cname}}


def _json(request: Request) -> Any:
    try:
        return request.json()
    except ValueError:
        return None


def _wanted(fields: list[str] | None, default: set[str] | None = None) -> set[str] | None:
    if not fields:
        return default
    names = {f.strip() for item in fields for f in str(item).split(",") if f.strip()}
    if "*all" in names or "*navigable" in names:
        return None
    return {n for n in names if not n.startswith("-")} - {n[1:] for n in names if n.startswith("-")}


def _fields_wanted(request: Request, default: set[str] | None = None) -> set[str] | None:
    return _wanted(request.query.get("fields"), default)

"""One adapter per help desk so the same behaviour is tested against each: how its plugin is configured,
and how a test reads or changes what its fake holds (what a technician would see or do)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from tests.plugins.ticketing.conftest import build
from tests.servers.helpdesk_http import FakeHelpDesk
from tests.servers.jira_fake import JiraFake
from tests.servers.servicedeskplus_fake import ServiceDeskPlusFake
from tests.servers.servicenow_fake import ServiceNowFake


@dataclass
class Desk:
    name: str
    fake: Any

    def options(self, **extra: Any) -> dict[str, Any]:
        fake = self.fake
        if isinstance(fake, ServiceNowFake):
            return {"url": fake.url, "username": fake.username, **extra}
        if isinstance(fake, JiraFake):
            return {"url": fake.url, "email": fake.email, "project": fake.project, **extra}
        return {"url": fake.url, **extra}

    def secrets(self) -> dict[str, str]:
        fake = self.fake
        if isinstance(fake, ServiceNowFake):
            return {"password": fake.password}
        if isinstance(fake, JiraFake):
            return {"api_token": fake.api_token}
        return {"technician_key": fake.technician_key}

    def plugin(self, http: Any, **options: Any) -> Any:
        return build(self.name, self.options(**options), self.secrets(), http)

    # ---- what the fake holds -------------------------------------------------------------------
    def record(self, number: str) -> dict[str, Any]:
        return dict(self.fake.tickets[number])

    def text(self, number: str) -> tuple[str, str]:
        """(subject, body) as a technician reads them."""
        fake, record = self.fake, self.record(number)
        if isinstance(fake, ServiceNowFake):
            return record["short_description"], "\n".join(fake.journal(number, "comments"))
        if isinstance(fake, JiraFake):
            return record["summary"], record["description"]
        return record["subject"], html.unescape(record["description"].replace("<br>", "\n"))

    def notes(self, number: str) -> list[str]:
        fake = self.fake
        if isinstance(fake, ServiceNowFake):
            return fake.journal(number, "work_notes")
        if isinstance(fake, JiraFake):
            return fake.comments(number)
        return [html.unescape(n.replace("<br>", "\n")) for n in fake.notes(number)]

    def priority(self, number: str) -> str:
        record = self.record(number)
        if isinstance(self.fake, ServiceNowFake):
            return f"impact={record['impact']} urgency={record['urgency']} priority={record['priority']}"
        if isinstance(self.fake, JiraFake):
            return record["priority"]
        return str(record["priority"]["name"])

    def set(self, number: str, state: str) -> None:
        """Move the ticket as a technician would: resolved, closed or canceled."""
        fake = self.fake
        if isinstance(fake, ServiceNowFake):
            fake.set_state(number, {"resolved": "6", "closed": "7", "canceled": "8"}[state])
        else:
            fake.set_status(number, state.capitalize())

    def remote_state(self, number: str) -> str:
        record = self.record(number)
        if isinstance(self.fake, ServiceNowFake):
            return {"1": "open", "2": "in_progress", "3": "on_hold", "6": "resolved", "7": "closed",
                    "8": "canceled"}[record["state"]]
        name = record["status"] if isinstance(self.fake, JiraFake) else record["status"]["name"]
        return str(name).lower().replace(" ", "_")

    def make_final(self) -> None:
        """Closed cannot be reopened here (ServiceNow always; SDP and Jira when configured so)."""
        if isinstance(self.fake, ServiceDeskPlusFake):
            self.fake.closed_final = True
        if isinstance(self.fake, JiraFake):
            self.fake.reopen_from = {"Resolved"}


def fake_of(desk: Desk) -> FakeHelpDesk:
    fake: FakeHelpDesk = desk.fake
    return fake

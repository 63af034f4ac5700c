"""The three help desks as the end-to-end tests drive them: the real plugin against its HTTPS fake, which
requires a client certificate from `client_pki`'s CA. One adapter per help desk maps the rules' words
(open, in_progress, on_hold, resolved, canceled, closed) onto the fake's statuses and reads texts back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from certvault.container import App
from tests.outbound.pki import Issued, key_pem, make_pki, pem, self_signed_ca
from tests.outbound.pki import Pki as OutboundPki
from tests.servers.helpdesk_http import FakeHelpDesk
from tests.servers.jira_fake import JiraFake
from tests.servers.servicedeskplus_fake import ServiceDeskPlusFake
from tests.servers.servicenow_fake import ServiceNowFake
from tests.servers.test_ca import LoopbackTLS, make_loopback_tls
from tests.tickets.seed import ADMIN

KEYSTORE_PASSWORD = "keystore-pass-7"
PLUGINS = ("servicenow", "servicedeskplus", "jira")
QUICK = {"retries": 1, "backoff": 0.05, "max_retry_wait": 1.0, "connect_timeout": 3.0, "read_timeout": 3.0}


@dataclass
class ClientPki:
    ca_file: Path
    good: Issued
    wrong: Issued  # from a CA the fakes do not trust

    def keystore(self, who: Issued | None = None) -> bytes:
        from certvault.crypto import pkcs12

        issued = who or self.good
        return pkcs12.export("certvault", issued.key, issued.cert, [], KEYSTORE_PASSWORD)


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LoopbackTLS:
    return make_loopback_tls(tmp_path_factory.mktemp("tickets-tls"))


@pytest.fixture(scope="session")
def client_pki(tmp_path_factory: pytest.TempPathFactory) -> ClientPki:
    directory = tmp_path_factory.mktemp("tickets-client")
    pki = make_pki("tickets client CA")
    wrong_ca = self_signed_ca("someone else's CA")
    (directory / "ca.pem").write_bytes(pem(pki.ca.cert))
    (directory / "client.key").write_bytes(key_pem(pki.ca.key))
    year = timedelta(days=365)  # the client certificate joins the inventory: not one expiring within the window
    return ClientPki(directory / "ca.pem", pki.issue("certvault-client", end=year),
                     OutboundPki(wrong_ca, wrong_ca).issue("certvault-client", end=year))


class Desk:
    """One help desk: its fake, how certvault's account is added, and the fake's state in the rules' words."""

    plugin: str
    final_states: tuple[str, ...] = ()  # states reopen cannot leave (a new ticket names the old one)

    def __init__(self, fake: Any) -> None:
        self.fake = fake

    def options(self) -> tuple[dict[str, Any], dict[str, str]]:
        raise NotImplementedError

    def count(self) -> int:
        return len(self.fake.tickets)

    def numbers(self) -> list[str]:
        return list(self.fake.tickets)

    def subject(self, number: str) -> str:
        raise NotImplementedError

    def body(self, number: str) -> str:
        raise NotImplementedError

    def notes(self, number: str) -> list[str]:
        raise NotImplementedError

    def set(self, number: str, state: str) -> None:
        raise NotImplementedError

    def state(self, number: str) -> str:
        raise NotImplementedError

    def make_final(self) -> str:
        """Make reopening impossible from some state; the state to put the ticket in."""
        raise NotImplementedError


class ServiceNowDesk(Desk):
    plugin = "servicenow"
    CODES = {"open": "1", "in_progress": "2", "on_hold": "3", "resolved": "6", "closed": "7", "canceled": "8"}

    def options(self) -> tuple[dict[str, Any], dict[str, str]]:
        return {"url": self.fake.url, "username": self.fake.username}, {"password": self.fake.password}

    def subject(self, number: str) -> str:
        return str(self.fake.by_number(number)["short_description"])

    def body(self, number: str) -> str:
        return str(self.fake.journal(number, "comments")[0])

    def notes(self, number: str) -> list[str]:
        close_notes = self.fake.by_number(number).get("close_notes") or ""  # what resolving wrote
        return [str(n) for n in self.fake.journal(number)] + ([str(close_notes)] if close_notes else [])

    def set(self, number: str, state: str) -> None:
        self.fake.set_state(number, self.CODES[state])

    def state(self, number: str) -> str:
        code = self.fake.by_number(number)["state"]
        return next(k for k, v in self.CODES.items() if v == code)

    def make_final(self) -> str:
        return "closed"  # ServiceNow reopens only Resolved incidents


class ServiceDeskPlusDesk(Desk):
    plugin = "servicedeskplus"
    NAMES = {"open": "Open", "in_progress": "In Progress", "on_hold": "On Hold", "resolved": "Resolved",
             "closed": "Closed", "canceled": "Canceled"}

    def options(self) -> tuple[dict[str, Any], dict[str, str]]:
        return {"url": self.fake.url, "correlation_udf": "udf_char1"}, {"technician_key": self.fake.technician_key}

    def subject(self, number: str) -> str:
        return str(self.fake.tickets[number]["subject"])

    def body(self, number: str) -> str:
        return str(self.fake.tickets[number]["description"])

    def notes(self, number: str) -> list[str]:
        return [str(n) for n in self.fake.notes(number)]

    def set(self, number: str, state: str) -> None:
        self.fake.set_status(number, self.NAMES[state])

    def state(self, number: str) -> str:
        name = self.fake.tickets[number]["status"]["name"]
        return next(k for k, v in self.NAMES.items() if v == name)

    def make_final(self) -> str:
        self.fake.closed_final = True
        return "closed"


class JiraDesk(Desk):
    plugin = "jira"
    NAMES = {"open": "Open", "in_progress": "In Progress", "on_hold": "On Hold", "resolved": "Resolved",
             "closed": "Closed", "canceled": "Canceled"}

    def options(self) -> tuple[dict[str, Any], dict[str, str]]:
        return ({"url": self.fake.url, "email": self.fake.email, "project": self.fake.project},
                {"api_token": self.fake.api_token})

    def subject(self, number: str) -> str:
        return str(self.fake.tickets[number]["summary"])

    def body(self, number: str) -> str:
        return str(self.fake.tickets[number]["description"])

    def notes(self, number: str) -> list[str]:
        return [str(n) for n in self.fake.comments(number)]

    def set(self, number: str, state: str) -> None:
        self.fake.set_status(number, self.NAMES[state])

    def state(self, number: str) -> str:
        name = self.fake.tickets[number]["status"]
        return next(k for k, v in self.NAMES.items() if v == name)

    def make_final(self) -> str:
        self.fake.reopen_from = {"Resolved"}
        return "closed"


FAKES: dict[str, tuple[type[FakeHelpDesk], type[Desk]]] = {
    "servicenow": (ServiceNowFake, ServiceNowDesk), "servicedeskplus": (ServiceDeskPlusFake, ServiceDeskPlusDesk),
    "jira": (JiraFake, JiraDesk)}


def start_desk(plugin: str, tls: LoopbackTLS, client_pki: ClientPki) -> Desk:
    fake_class, desk_class = FAKES[plugin]
    return desk_class(fake_class(tls, client_ca=client_pki.ca_file).start())


def add_account(app: App, desk: Desk, tls: LoopbackTLS, client_pki: ClientPki, name: str = "hd",
                keystore: bytes | None = None) -> None:
    """The help desk as an administrator adds it: plugin options and secrets, the client keystore (checked
    now) and the fakes' CA as the trusted certificate; quick retries so outage tests finish soon."""
    options, secrets = desk.options()
    with app.transaction() as svc:
        account = svc.integrations.add(ADMIN, "ticketing", desk.plugin, name, options, secrets)
        account.connection = dict(QUICK)
        svc.tickets.configure(ADMIN, account.id, keystore=keystore or client_pki.keystore(),
                              keystore_password=KEYSTORE_PASSWORD, trusted_cert=tls.ca_file.read_bytes())


@pytest.fixture(params=PLUGINS)
def desk(request: pytest.FixtureRequest, tls: LoopbackTLS, client_pki: ClientPki) -> Iterator[Desk]:
    started = start_desk(request.param, tls, client_pki)
    yield started
    started.fake.stop()

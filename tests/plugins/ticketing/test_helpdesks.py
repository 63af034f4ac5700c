"""Each help-desk plugin, built by the registry, against its stateful fake over HTTPS that requires a
client certificate (presented from a PKCS#12 keystore through the shared outbound client): create, find
by correlation key, read, notes, reopen, resolve, the silent refusal, the failures the outbound client
retries or surfaces, and the batched status read."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from certvault.errors import Conflict, IntegrationError, NotFound
from certvault.outbound import ClientIdentity
from certvault.plugins.protocols import TicketDraft
from tests.plugins.ticketing.conftest import KEYSTORE_PASSWORD, AccountClients, ClientPki
from tests.plugins.ticketing.desks import Desk
from tests.servers.jira_fake import JiraFake
from tests.servers.servicedeskplus_fake import ServiceDeskPlusFake
from tests.servers.servicenow_fake import ServiceNowFake
from tests.servers.test_ca import LoopbackTLS

FAKES = {"servicenow": ServiceNowFake, "servicedeskplus": ServiceDeskPlusFake, "jira": JiraFake}
BODY = ("The SSL Certificate www.example.com expiring soon, please take care\nCommon Name: www.example.com\n"
        "Expiry Date: Jul 23, 2020\nScanned by: certvault running at https://certvault.example.com:8443")


def draft(key: str = "expiry:01AB", subject: str = "SSL Certificate www.example.com expiry") -> TicketDraft:
    return TicketDraft(subject=subject, body=BODY, correlation_key=key)


@pytest.fixture(params=sorted(FAKES))
def desk(request: pytest.FixtureRequest, tls: LoopbackTLS, client_pki: ClientPki) -> Iterator[Desk]:
    with FAKES[request.param](tls, client_ca=client_pki.ca_file) as fake:
        yield Desk(request.param, fake)


def test_create_find_read_and_the_text_where_a_technician_reads_it(desk: Desk, clients: AccountClients) -> None:
    plugin = desk.plugin(clients)
    assert plugin.find("expiry:01AB") is None
    created = plugin.create(draft())
    assert created.state == "open" and created.url.startswith(desk.fake.url)
    subject, body = desk.text(created.number)
    assert subject.startswith("SSL Certificate www.example.com expiry") and body == BODY
    assert desk.priority(created.number) in ("High", "impact=1 urgency=2 priority=2")

    assert plugin.find("expiry:01AB") == created
    assert plugin.find("expiry:01A") is None and plugin.find("expiry:01ABC") is None  # exact key only
    assert plugin.read(created.number) == created
    with pytest.raises(NotFound):
        plugin.read({"servicenow": "INC0099999", "servicedeskplus": "999999", "jira": "SEC-999"}[desk.name])


def test_note_resolve_reopen_from_resolved(desk: Desk, clients: AccountClients) -> None:
    plugin = desk.plugin(clients)
    number = plugin.create(draft()).number
    plugin.add_note(number, "Weak ciphers in use, which should be removed\nTLS_RSA_WITH_RC4_128_SHA")
    assert "Weak ciphers in use, which should be removed\nTLS_RSA_WITH_RC4_128_SHA" in desk.notes(number)

    resolved = plugin.resolve(number, "A renewed certificate is stored")
    assert resolved.state == "resolved" and desk.remote_state(number) == "resolved"
    assert plugin.resolve(number, "again").state == "resolved"  # already done: nothing written
    reopened = plugin.reopen(number, "The certificate still expires on Jul 23, 2020")
    assert reopened.state in ("open", "in_progress") and desk.remote_state(number) == reopened.state
    assert any("still expires" in n for n in desk.notes(number))
    assert plugin.reopen(number, "again") == plugin.read(number)  # already open: left alone


def test_reopen_from_a_final_state_is_a_conflict(desk: Desk, clients: AccountClients) -> None:
    plugin = desk.plugin(clients)
    number = plugin.create(draft()).number
    desk.make_final()
    desk.set(number, "closed")
    assert plugin.read(number).state == "closed"
    with pytest.raises(Conflict, match=number):
        plugin.reopen(number, "still expiring")
    assert desk.remote_state(number) == "closed"


def test_a_silently_refused_status_change_is_a_failure(desk: Desk, clients: AccountClients) -> None:
    plugin = desk.plugin(clients)
    number = plugin.create(draft()).number
    desk.fake.fail_next("refuse_state")
    with pytest.raises(IntegrationError, match="refused the change"):
        plugin.resolve(number, "renewed")
    assert desk.remote_state(number) == "open"
    desk.set(number, "resolved")
    desk.fake.fail_next("refuse_state")
    with pytest.raises(IntegrationError, match=f"kept ticket {number}"):
        plugin.reopen(number, "still expiring")
    assert plugin.read(number).state == "resolved"


def test_429_with_retry_after_is_waited_out(desk: Desk, clients: AccountClients) -> None:
    plugin = desk.plugin(clients)
    number = plugin.create(draft()).number
    before = sum(desk.fake.calls.values())
    desk.fake.fail_next("429", 1, retry_after=1)
    assert plugin.read(number).number == number
    assert sum(desk.fake.calls.values()) - before == 2  # the 429 and the retry


def test_a_server_error_surfaces_after_the_retries(desk: Desk, clients: AccountClients) -> None:
    plugin = desk.plugin(clients)
    desk.fake.fail_next("503", 3)
    with pytest.raises(IntegrationError) as failed:
        plugin.find("expiry:01AB")
    message = failed.value.message
    assert "503" in message and "\n" not in message and desk.fake.calls.total() == 3  # retries=2
    desk.fake.fail_next("500", 1)
    with pytest.raises(IntegrationError, match="500"):
        plugin.create(draft())
    assert plugin.find("expiry:01AB") is None  # a 500 to POST is not repeated: nothing was created


def test_dropped_connections_and_slow_answers(desk: Desk, tls: LoopbackTLS, client_pki: ClientPki) -> None:
    identity = ClientIdentity.from_keystore(client_pki.keystore(), KEYSTORE_PASSWORD)
    plugin = desk.plugin(AccountClients(tls, identity, read_timeout=1.0))
    number = plugin.create(draft()).number
    desk.fake.fail_next("drop", 1)
    assert plugin.read(number).number == number  # a read is retried on a new connection
    desk.fake.fail_next("timeout", 1, delay=2.5)
    assert plugin.read(number).number == number  # and after a read timeout
    desk.fake.fail_next("drop", 3)
    with pytest.raises(IntegrationError) as failed:
        plugin.read(number)
    assert "\n" not in failed.value.message and desk.fake.title in failed.value.message


def test_read_many_asks_once_per_hundred_tickets(desk: Desk, clients: AccountClients) -> None:
    plugin = desk.plugin(clients)
    numbers = [plugin.create(draft(key=f"expiry:{i:04X}")).number for i in range(130)]
    desk.set(numbers[7], "resolved")
    before = desk.fake.calls.copy()
    seen = plugin.read_many(numbers + numbers[:5])
    assert sorted(seen) == sorted(numbers) and seen[numbers[7]].state == "resolved"
    assert {n: t.state for n, t in seen.items() if n != numbers[7]} == dict.fromkeys(set(numbers) - {numbers[7]},
                                                                                      "open")
    assert (desk.fake.calls - before).total() == 2  # 130 tickets: two queries (Jira's are POST search/jql)
    assert plugin.read_many([]) == {}


def test_a_create_whose_answer_is_lost_is_found_afterwards(desk: Desk, tls: LoopbackTLS,
                                                           client_pki: ClientPki) -> None:
    """The help desk did the work but the answer never came (dropped, or later than the read timeout): the
    create is not sent again (it may have been handled), and the search by key finds the ticket."""
    identity = ClientIdentity.from_keystore(client_pki.keystore(), KEYSTORE_PASSWORD)
    plugin = desk.plugin(AccountClients(tls, identity, read_timeout=1.0))
    for kind, key in (("drop_after", "expiry:0001"), ("timeout", "expiry:0002")):
        desk.fake.fail_next(kind, 1, delay=2.5)
        with pytest.raises(IntegrationError) as lost:
            plugin.create(draft(key=key))
        assert "\n" not in lost.value.message
        deadline = time.monotonic() + 30
        while plugin.find(key) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        found = plugin.find(key)
        assert found is not None and len(desk.fake.tickets) == int(key[-1])

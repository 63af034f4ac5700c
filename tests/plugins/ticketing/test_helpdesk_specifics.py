"""What differs per help desk: ServiceNow's OAuth client credentials and its journals; ServiceDesk Plus's
correlation UDF or subject tag and renamed statuses; Jira's v2 (plain text) and Data Center search, and a
deleted issue inside a batched read; the options and secrets each account takes."""

from __future__ import annotations

import pytest

from certvault.errors import Conflict, IntegrationError, InvalidInput
from certvault.plugins.registry import default_registry
from tests.plugins.ticketing.conftest import AccountClients, ClientPki, build
from tests.plugins.ticketing.test_helpdesks import BODY, draft
from tests.servers.jira_fake import JiraFake
from tests.servers.servicedeskplus_fake import ServiceDeskPlusFake
from tests.servers.servicenow_fake import ServiceNowFake
from tests.servers.test_ca import LoopbackTLS


def test_accounts_take_the_options_and_secrets_the_cli_names() -> None:
    registry = default_registry()
    expected = {"servicenow": ({"url", "username", "client_id"}, ("password", "client_secret")),
                "servicedeskplus": ({"url", "correlation_udf"}, ("technician_key",)),
                "jira": ({"url", "email", "project"}, ("api_token",))}
    for name, (options, secrets) in expected.items():
        info = registry.get("ticketing", name)
        assert options <= set(info.options_model.model_fields) and info.secret_fields == secrets
    assert registry.names("ticketing")[:3] == ["jira", "servicedeskplus", "servicenow"]
    with pytest.raises(InvalidInput, match="--username with --password, or --client-id with --client-secret"):
        registry.validate("ticketing", "servicenow", {"url": "https://x.service-now.com", "username": "u"}, {})
    with pytest.raises(InvalidInput, match="url: .*https://"):
        registry.validate("ticketing", "jira", {"url": "http://jira", "email": "a@b.c", "project": "SEC"},
                          {"api_token": "t"})
    with pytest.raises(InvalidInput, match="missing secret technician_key"):
        registry.validate("ticketing", "servicedeskplus", {"url": "https://sdp.example.com:8080"}, {})
    with pytest.raises(InvalidInput, match="status_map"):
        registry.validate("ticketing", "jira", {"url": "https://x.atlassian.net", "email": "a@b.c", "project": "SEC",
                                                "status_map": {"Parked": "sleeping"}}, {"api_token": "t"})


def test_servicenow_oauth_client_credentials(tls: LoopbackTLS, client_pki: ClientPki,
                                             clients: AccountClients) -> None:
    with ServiceNowFake(tls, client_ca=client_pki.ca_file) as fake:
        options = {"url": fake.url + "/", "client_id": fake.client_id}
        plugin = build("servicenow", options, {"client_secret": fake.client_secret}, clients)
        created = plugin.create(draft())
        assert "OAuth client sn-client-id" in plugin.check() and len(fake.tokens) == 1
        fake.tokens.clear()  # the token expired: one new token, the call repeated once
        assert plugin.read(created.number) == created and len(fake.tokens) == 1
        record = fake.by_number(created.number)
        assert (record["correlation_id"], record["correlation_display"]) == ("expiry:01AB", "certvault")
        assert fake.journal(created.number, "comments") == [BODY]  # one comments entry, the body
        wrong = build("servicenow", options, {"client_secret": "not-the-secret"}, clients)
        with pytest.raises(IntegrationError, match="refused the OAuth client credentials") as refused:
            wrong.check()
        assert "not-the-secret" not in refused.value.message


def test_servicenow_finds_the_newest_incident_of_a_key_and_notes_to_comments(tls: LoopbackTLS,
                                                                             client_pki: ClientPki,
                                                                             clients: AccountClients) -> None:
    with ServiceNowFake(tls, client_ca=client_pki.ca_file) as fake:
        options = {"url": fake.url, "username": fake.username, "note_field": "comments"}
        plugin = build("servicenow", options, {"password": fake.password}, clients)
        old = plugin.create(draft())
        fake.set_state(old.number, "7")
        new = plugin.create(draft(subject=f"SSL Certificate www.example.com expiry (was {old.number})"))
        assert plugin.find("expiry:01AB") == new
        plugin.add_note(new.number, "still expiring")
        assert fake.journal(new.number, "comments")[-1] == "still expiring"
        resolved = plugin.resolve(new.number, "renewed")
        assert resolved.remote_status == "Resolved"
        assert (fake.by_number(new.number)["close_code"], fake.by_number(new.number)["close_notes"]) == (
            "Solution provided", "renewed")


def test_servicedeskplus_udf_or_subject_tag(tls: LoopbackTLS, client_pki: ClientPki,
                                            clients: AccountClients) -> None:
    with ServiceDeskPlusFake(tls, client_ca=client_pki.ca_file) as fake:
        tagged = build("servicedeskplus", {"url": fake.url}, {"technician_key": fake.technician_key}, clients)
        first = tagged.create(draft(key="vuln:www.example.com@192.168.0.23"))
        assert fake.tickets[first.number]["subject"] == (
            "SSL Certificate www.example.com expiry [certvault:vuln:www.example.com@192.168.0.23]")
        assert tagged.find("vuln:www.example.com@192.168.0.23") == first
        assert tagged.find("vuln:www.example.com@192.168.0.2") is None  # a tag that is a prefix: no match

        with_udf = build("servicedeskplus", {"url": fake.url, "correlation_udf": "udf_char1"},
                         {"technician_key": fake.technician_key}, clients)
        second = with_udf.create(draft(key="expiry:01AB"))
        stored = fake.tickets[second.number]
        assert stored["subject"] == "SSL Certificate www.example.com expiry"
        assert stored["udf_fields"]["udf_char1"] == "expiry:01AB" and stored["priority"]["name"] == "High"
        assert stored["description"].split("<br>")[0] == "The SSL Certificate www.example.com expiring soon, " \
                                                         "please take care"
        assert with_udf.find("expiry:01AB") == second and tagged.find("expiry:01AB") is None
        missing = build("servicedeskplus", {"url": fake.url, "correlation_udf": "udf_char9"},
                        {"technician_key": fake.technician_key}, clients)
        with pytest.raises(IntegrationError, match="udf_char9"):
            missing.create(draft(key="expiry:02"))


def test_servicedeskplus_renamed_statuses(tls: LoopbackTLS, client_pki: ClientPki, clients: AccountClients) -> None:
    statuses = (("New", "Open", True, False), ("Waiting", "Onhold", False, True),
                ("Done", "Resolved", False, True), ("Closed", "Closed", False, True),
                ("Cancelled", "Canceled", False, True))
    with ServiceDeskPlusFake(tls, client_ca=client_pki.ca_file, statuses=statuses) as fake:
        options = {"url": fake.url, "open_status": "New", "resolved_status": "Done",
                   "status_map": {"New": "open", "Waiting": "on_hold", "Done": "resolved"}}
        plugin = build("servicedeskplus", options, {"technician_key": fake.technician_key}, clients)
        number = plugin.create(draft()).number
        assert plugin.resolve(number, "renewed").remote_status == "Done"
        fake.set_status(number, "Cancelled")
        assert plugin.read(number).state == "canceled"
        reopened = plugin.reopen(number, "still expiring")
        assert (reopened.state, reopened.remote_status) == ("open", "New")
        assert fake.tickets[number]["is_reopened"] is True
        fake.set_status(number, "Waiting")
        assert plugin.read_many([number])[number].state == "on_hold"
        wrong = build("servicedeskplus", {"url": fake.url}, {"technician_key": fake.technician_key}, clients)
        fake.set_status(number, "Done")
        with pytest.raises(IntegrationError, match="4001"):  # "Open" does not exist here
            wrong.reopen(number, "x")


def test_jira_v2_plain_text_and_a_data_center_without_search_jql(tls: LoopbackTLS, client_pki: ClientPki,
                                                                 clients: AccountClients) -> None:
    with JiraFake(tls, client_ca=client_pki.ca_file, cloud=False) as fake:
        options = {"url": fake.url, "email": fake.email, "project": fake.project, "api_version": "2"}
        plugin = build("jira", options, {"api_token": fake.api_token}, clients)
        created = plugin.create(draft())
        assert fake.tickets[created.number]["description"] == BODY
        assert fake.tickets[created.number]["labels"] == ["expiry:01AB"]
        assert plugin.find("expiry:01AB") == created  # search/jql 404: the classic search
        plugin.add_note(created.number, "line one\nline two")
        assert fake.comments(created.number) == ["line one\nline two"]
        assert plugin.read_many([created.number])[created.number].state == "open"


def test_jira_batched_read_skips_a_deleted_issue(jira: JiraFake, clients: AccountClients) -> None:
    plugin = build("jira", {"url": jira.url, "email": jira.email, "project": jira.project},
                   {"api_token": jira.api_token}, clients)
    numbers = [plugin.create(draft(key=f"expiry:{i}")).number for i in range(3)]
    del jira.issues[numbers[1]]
    seen = plugin.read_many(numbers)
    assert sorted(seen) == [numbers[0], numbers[2]]
    with pytest.raises(InvalidInput):
        plugin.read_many(["SEC-1) OR project = OTHER"])  # nothing but issue keys reaches the JQL


def test_jira_workflow_without_a_resolve_transition_is_named(jira: JiraFake, clients: AccountClients) -> None:
    plugin = build("jira", {"url": jira.url, "email": jira.email, "project": jira.project},
                   {"api_token": jira.api_token}, clients)
    number = plugin.create(draft()).number
    jira.set_status(number, "Closed")
    jira.reopen_from = set()
    with pytest.raises(Conflict, match="no transition out of it"):
        plugin.reopen(number, "still expiring")
    assert plugin.resolve(number, "renewed").state == "closed"  # already done: left alone
    jira.reopen_from = {"Closed"}
    assert plugin.reopen(number, "still expiring").state == "open"
    assert jira.comments(number)[-1] == "still expiring"  # the note travels with the transition


def test_servicenow_rate_limit_is_waited_out(servicenow: ServiceNowFake, clients: AccountClients) -> None:
    plugin = build("servicenow", {"url": servicenow.url, "username": servicenow.username},
                   {"password": servicenow.password}, clients)
    number = plugin.create(draft()).number
    servicenow.rate_limit = (3, 1.0)
    seen = [plugin.read(number).number for _ in range(8)]  # past the limit: 429, Retry-After, then on
    assert seen == [number] * 8 and servicenow.calls["GET"] > 8

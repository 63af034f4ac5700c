"""The fakes behave like the real APIs to the vendors' own clients: ServiceNow's `pysnc` (GlideRecord) and
the `jira` library, over HTTPS that requires a client certificate. ServiceDesk Plus has no client
library: raw requests shaped as its v3 documentation shows them."""

from __future__ import annotations

import json

import httpx
import pytest
import requests
from jira import JIRA, JIRAError
from pysnc import ServiceNowClient

from tests.plugins.ticketing.conftest import ClientPki
from tests.servers.jira_fake import JiraFake, adf
from tests.servers.servicedeskplus_fake import ServiceDeskPlusFake
from tests.servers.servicenow_fake import ServiceNowFake
from tests.servers.test_ca import LoopbackTLS


@pytest.fixture(autouse=True)
def _no_bundle_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests prefers REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE over a session's own `verify`."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def _snc(fake: ServiceNowFake, tls: LoopbackTLS, pki: ClientPki, password: str | None = None) -> ServiceNowClient:
    session = requests.Session()
    session.auth = (fake.username, password or fake.password)
    session.cert = (str(pki.cert_file), str(pki.key_file))
    return ServiceNowClient(fake.url, session, verify=str(tls.ca_file), auto_retry=False)


def test_pysnc_creates_queries_and_updates_an_incident(servicenow: ServiceNowFake, tls: LoopbackTLS,
                                                       client_pki: ClientPki) -> None:
    client = _snc(servicenow, tls, client_pki)
    gr = client.GlideRecord("incident")
    gr.initialize()
    gr.short_description = "SSL Certificate www.example.com expiry"
    gr.correlation_id = "certvault:expiry:01AB"
    gr.impact, gr.urgency = "1", "2"
    gr.comments = "The SSL Certificate www.example.com expiring soon, please take care"
    sys_id = gr.insert()
    number = gr.get_value("number")
    assert sys_id and number.startswith("INC") and gr.get_value("priority") == "2"
    assert gr.get_display_value("priority") == "2 - High" and gr.get_value("comments") == ""  # a journal reads ""

    found = client.GlideRecord("incident")
    found.add_query("correlation_id", "certvault:expiry:01AB")
    found.add_active_query()
    found.order_by_desc("sys_created_on")
    found.query()
    assert found.get_row_count() == 1 and found.next() and found.get_value("sys_id") == sys_id
    found.state = "6"
    found.close_code, found.close_notes = "Solution provided", "renewed"
    found.update()
    assert servicenow.by_number(number)["state"] == "6"

    again = client.GlideRecord("incident")
    assert again.get(sys_id) and again.get_value("state") == "6" and again.get_display_value("state") == "Resolved"
    again.state = "2"
    again.work_notes = "certificate still expiring"
    again.update()
    record = servicenow.by_number(number)
    assert (record["state"], record["reopen_count"]) == ("2", "1")
    assert servicenow.journal(number, "work_notes") == ["certificate still expiring"]

    typo = client.GlideRecord("incident")
    typo.add_encoded_query("corelation_id=nothing")  # unknown field: ignored, as on an instance
    typo.query()
    assert typo.get_row_count() == 1


def test_pysnc_sees_auth_failures_and_the_closed_incident_rule(servicenow: ServiceNowFake, tls: LoopbackTLS,
                                                               client_pki: ClientPki) -> None:
    from pysnc.exceptions import AuthenticationException, RoleException

    with pytest.raises(AuthenticationException):
        _snc(servicenow, tls, client_pki, password="wrong").GlideRecord("incident").get("0" * 32)
    client = _snc(servicenow, tls, client_pki)
    gr = client.GlideRecord("incident")
    gr.initialize()
    gr.short_description = "closing"
    gr.insert()
    servicenow.set_state(gr.get_value("number"), "7")
    gr.state = "2"
    with pytest.raises(RoleException):  # 403: Closed incidents cannot be reopened
        gr.update()


def test_pysnc_without_a_client_certificate_is_refused(servicenow: ServiceNowFake, tls: LoopbackTLS) -> None:
    session = requests.Session()
    session.auth = (servicenow.username, servicenow.password)
    client = ServiceNowClient(servicenow.url, session, verify=str(tls.ca_file), auto_retry=False)
    with pytest.raises(requests.exceptions.SSLError):
        client.GlideRecord("incident").get("0" * 32)


def _jira(fake: JiraFake, tls: LoopbackTLS, pki: ClientPki, token: str | None = None) -> JIRA:
    return JIRA(server=fake.url, basic_auth=(fake.email, token or fake.api_token), max_retries=0,
                options={"verify": str(tls.ca_file), "client_cert": (str(pki.cert_file), str(pki.key_file))})


def test_jira_library_creates_searches_comments_and_transitions(jira: JiraFake, tls: LoopbackTLS,
                                                               client_pki: ClientPki) -> None:
    client = _jira(jira, tls, client_pki)
    issue = client.create_issue(project="SEC", summary="SSL Certificate www.example.com expiry",
                                description="Common Name: www.example.com", issuetype={"name": "Task"},
                                priority={"name": "High"}, labels=["certvault-expiry-01AB"])
    assert issue.key == "SEC-1" and issue.fields.priority.name == "High"
    assert issue.fields.description == "Common Name: www.example.com"

    found = client.search_issues('labels = "certvault-expiry-01AB" AND statusCategory != Done',
                                 fields=["status", "summary"])
    assert [i.key for i in found] == ["SEC-1"] and found[0].fields.status.name == "Open"

    client.add_comment(issue, "Renewed certificate stored")
    assert jira.comments("SEC-1") == ["Renewed certificate stored"]
    names = {t["name"]: t["id"] for t in client.transitions(issue)}
    assert {"Resolve", "Start Progress", "Put on hold"} <= set(names)
    client.transition_issue(issue, names["Resolve"], comment="resolved by certvault")
    assert jira.tickets["SEC-1"]["status"] == "Resolved" and jira.comments("SEC-1")[-1] == "resolved by certvault"
    assert client.issue("SEC-1").fields.resolution.name == "Done"
    reopen = client.find_transitionid_by_name(issue, "Reopen")
    client.transition_issue(issue, reopen)
    assert client.issue("SEC-1").fields.status.name == "Open"

    with pytest.raises(JIRAError) as refused:
        client.search_issues("labels = x AND colour = red")
    assert refused.value.status_code == 400 and "colour" in refused.value.text


def test_jira_library_with_a_wrong_token_is_unauthenticated(jira: JiraFake, tls: LoopbackTLS,
                                                            client_pki: ClientPki) -> None:
    with pytest.raises(JIRAError) as refused:
        _jira(jira, tls, client_pki, token="wrong").myself()
    assert refused.value.status_code == 401


def test_jira_v3_takes_atlassian_documents_only(jira: JiraFake, tls: LoopbackTLS, client_pki: ClientPki) -> None:
    with _raw(tls, client_pki, jira.url, auth=(jira.email, jira.api_token)) as http:
        fields = {"project": {"key": "SEC"}, "issuetype": {"name": "Task"}, "summary": "s", "description": "plain"}
        assert http.post("/rest/api/3/issue", json={"fields": fields}).status_code == 400
        fields["description"] = adf("line one\nline two")
        created = http.post("/rest/api/3/issue", json={"fields": fields})
        assert created.status_code == 201
        key = created.json()["key"]
        assert http.get(f"/rest/api/3/issue/{key}").json()["fields"]["description"] == adf("line one\nline two")
        assert http.post("/rest/api/3/search", json={"jql": "project = SEC"}).status_code == 410
        page = http.post("/rest/api/3/search/jql", json={"jql": f"key in ({key})", "fields": ["status"]}).json()
        assert page["isLast"] is True and "total" not in page and list(page["issues"][0]["fields"]) == ["status"]
        missing = http.post("/rest/api/3/search/jql", json={"jql": "key in (SEC-999)"})
        assert missing.status_code == 400 and "SEC-999" in missing.json()["errorMessages"][0]


def _raw(tls: LoopbackTLS, pki: ClientPki, url: str, **kwargs: object) -> httpx.Client:
    import ssl

    context = ssl.create_default_context(cafile=str(tls.ca_file))
    context.load_cert_chain(str(pki.cert_file), str(pki.key_file))
    return httpx.Client(base_url=url, verify=context, timeout=30, **kwargs)  # type: ignore[arg-type]


def _sdp(http: httpx.Client, method: str, path: str, data: dict[str, object] | None = None,
         in_query: bool = False) -> httpx.Response:
    encoded = json.dumps(data) if data is not None else None
    if method == "GET" or in_query:
        return http.request(method, f"/api/v3/{path}", params={"input_data": encoded} if encoded else None)
    return http.request(method, f"/api/v3/{path}", data={"input_data": encoded} if encoded else None)


def test_servicedeskplus_fake_speaks_the_v3_shapes(servicedeskplus: ServiceDeskPlusFake, tls: LoopbackTLS,
                                                   client_pki: ClientPki) -> None:
    headers = {"authtoken": servicedeskplus.technician_key, "Accept": "application/vnd.manageengine.sdp.v3+json"}
    with _raw(tls, client_pki, servicedeskplus.url, headers=headers) as http:
        request = {"subject": "SSL Certificate www.example.com expiry [certvault:expiry:01AB]",
                   "description": "Common Name: www.example.com", "priority": {"name": "High"},
                   "udf_fields": {"udf_char1": "expiry:01AB"}}
        created = _sdp(http, "POST", "requests", {"request": request})
        assert created.status_code == 201
        body = created.json()
        assert body["response_status"] == {"status_code": 2000, "status": "success"}
        rid = body["request"]["id"]
        assert rid.isdigit() and body["request"]["status"]["name"] == "Open"
        assert body["request"]["created_time"]["value"].isdigit()

        search = {"list_info": {"row_count": 10, "start_index": 1, "get_total_count": True, "search_criteria": [
            {"field": "subject", "condition": "contains", "value": "[certvault:expiry:01AB]"},
            {"field": "status.name", "condition": "is", "values": ["Open", "On Hold"], "logical_operator": "AND"}]}}
        listed = _sdp(http, "GET", "requests", search).json()
        assert isinstance(listed["response_status"], list) and listed["list_info"]["total_count"] == 1
        assert [r["id"] for r in listed["requests"]] == [rid]
        by_udf = {"list_info": {"row_count": 5, "search_criteria": {"field": "udf_fields.udf_char1",
                                                                     "condition": "is", "value": "expiry:01AB"}}}
        assert [r["id"] for r in _sdp(http, "GET", "requests", by_udf).json()["requests"]] == [rid]

        note = _sdp(http, "POST", f"requests/{rid}/notes", {"note": {"description": "scan results"}}, in_query=True)
        assert note.status_code == 201 and servicedeskplus.notes(rid) == ["scan results"]
        assert _sdp(http, "POST", f"requests/{rid}/notes", {"request_note": {"description": "b"}}).status_code == 201
        resolved = _sdp(http, "PUT", f"requests/{rid}", {"request": {"status": {"name": "Resolved"}}})
        assert resolved.json()["request"]["status"]["name"] == "Resolved"
        reopened = _sdp(http, "PUT", f"requests/{rid}", {"request": {"status": {"name": "Open"}}}).json()
        assert reopened["request"]["is_reopened"] is True
        unknown = _sdp(http, "PUT", f"requests/{rid}", {"request": {"status": {"name": "Parked"}}})
        assert unknown.status_code == 400 and unknown.json()["response_status"]["messages"][0]["status_code"] == 4001
        assert _sdp(http, "PUT", f"requests/{rid}/_close", {"request": {"closure_info": {
            "closure_comments": "done", "closure_code": {"name": "Success"}}}}).status_code == 200
        assert servicedeskplus.tickets[rid]["status"]["name"] == "Closed"
        missing = _sdp(http, "POST", "requests", {"request": {"description": "no subject"}}).json()
        assert missing["response_status"]["messages"][0]["status_code"] == 4012
        http.headers["authtoken"] = "wrong"
        denied = _sdp(http, "GET", f"requests/{rid}")
        assert denied.status_code == 401 and denied.json()["response_status"]["messages"][0]["status_code"] == 4022

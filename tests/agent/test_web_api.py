"""The management API and the Agents page (in-process server): tokens with the install command, the list,
revocation, errors next to the field, and the agent routes refusing callers without a client certificate."""

from __future__ import annotations

from fastapi.testclient import TestClient

from certvault.agent.identity import csr_pem, new_key
from certvault.container import App
from tests.conftest import create_login, web_login


def test_api_token_enrol_list_revoke(sqlite_app: App, sqlite_client: TestClient) -> None:
    admin = create_login(sqlite_app, "administrator")
    auditor = create_login(sqlite_app, "auditor")
    created = sqlite_client.post(
        "/api/v1/agents/tokens", json={"name": "itAuth", "expires_in": 600}, headers=admin.headers
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["agent"] == "itAuth" and body["token"].startswith("cvat_")
    assert f"--token {body['token']}" in body["install_command"] and "/api/v1/agent/package" in body["install_command"]
    refused = sqlite_client.post("/api/v1/agents/tokens", json={"name": "x"}, headers=auditor.headers)
    assert refused.status_code == 403
    enrolled = sqlite_client.post(
        "/api/v1/agent/enroll", json={"token": body["token"], "csr_pem": csr_pem(new_key(), "whatever")}
    )
    assert enrolled.status_code == 201 and enrolled.json()["agent"] == "itAuth"
    again = sqlite_client.post(
        "/api/v1/agent/enroll", json={"token": body["token"], "csr_pem": csr_pem(new_key(), "whatever")}
    )
    assert again.status_code == 401
    (listed,) = sqlite_client.get("/api/v1/agents", headers=auditor.headers).json()
    assert (
        listed["name"] == "itAuth" and listed["serial"] == enrolled.json()["serial"] and listed["status"] == "enrolled"
    )
    revoked = sqlite_client.post("/api/v1/agents/itAuth/revoke", headers=admin.headers)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert sqlite_client.get("/api/v1/agent/jobs", params={"wait": 0}).status_code == 401
    assert sqlite_client.post("/api/v1/agent/certificate", json={"csr_pem": "x"}).status_code == 401
    missing = sqlite_client.get("/api/v1/agent/package")
    assert missing.status_code == 404 and "make agent-package" in missing.json()["detail"]


def test_package_download(sqlite_app: App, sqlite_client: TestClient) -> None:
    folder = sqlite_app.settings.data_dir / "agent-package"
    folder.mkdir()
    (folder / "certvault-agent-0.1.0.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    answer = sqlite_client.get("/api/v1/agent/package")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    assert answer.content.startswith(b"PK")


def test_agents_page(sqlite_app: App, sqlite_client: TestClient) -> None:
    admin = create_login(sqlite_app, "administrator")
    csrf = web_login(sqlite_client, admin, "/agents")
    page = sqlite_client.get("/agents")
    assert page.status_code == 200 and "No agent yet" in page.text and "make agent-package" in page.text
    bad = sqlite_client.post("/agents/tokens", data={"csrf_token": csrf, "name": "not a name", "expires_in": "1h"})
    assert bad.status_code == 400 and 'class="field-error" id="name-error"' in bad.text
    assert 'value="not a name"' in bad.text
    good = sqlite_client.post("/agents/tokens", data={"csrf_token": csrf, "name": "Web-01", "expires_in": "15m"})
    assert good.status_code == 201 and "Enrolment token for Web-01" in good.text
    assert "sudo sh certvault-agent/install.sh" in good.text and "install.ps1" in good.text
    token = good.text.split('<dt>Token</dt><dd><code class="mono">', 1)[1].split("<", 1)[0]
    enrolled = sqlite_client.post("/api/v1/agent/enroll", json={"token": token, "csr_pem": csr_pem(new_key(), "x")})
    assert enrolled.status_code == 201
    listed = sqlite_client.get("/agents").text
    assert "<td>Web-01" in listed and enrolled.json()["serial"] in listed and "Revoke<span" in listed
    revoked = sqlite_client.post("/agents/Web-01/revoke", data={"csrf_token": csrf}, follow_redirects=True)
    assert revoked.status_code == 200 and ">Revoked</span>" in revoked.text

"""The scanner-facing APIs against a real `certvault serve` over HTTPS, driven by the vendors' own clients:
Delinea's python-tss-sdk (Secret Server) and hvac (HashiCorp Vault KV v2), plus the scanner flow with an
IP allowlist and an email alert through a real SMTP server.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import hvac
import pytest
from delinea.secrets.server import (
    PasswordGrantAuthorizer,
    SecretServer,
    SecretServerClientError,
    ServerSecret,
)

from tests.servers.certvault_server import LiveServer, remove_live_server, start_live_server
from tests.servers.smtp import SmtpServer
from tests.servers.test_ca import make_loopback_tls

pytestmark = pytest.mark.xdist_group("vault-live")
ROOT_PASSWORD = "Sc4n-root-P4ss!"


@dataclass
class Scene:
    live: LiveServer
    smtp: SmtpServer
    admin_token: str
    scanner_password: str
    secret_number: int


def _cli_json(live: LiveServer, *args: str) -> dict:  # type: ignore[type-arg]
    return json.loads(live.cli(*args, "--json").stdout)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    tls = make_loopback_tls(tmp_path_factory.mktemp("smtp-tls"))
    smtp = SmtpServer(tls).start()
    live = start_live_server()
    try:
        live.cli("folder", "add", "Scan credentials")
        live.cli("notify", "channel", "add", "email", "secops-mail", "--host", "127.0.0.1",
                 "--port", str(smtp.port), "--username", smtp.username, "--sender", "certvault@example.test",
                 "--recipients", "secops@example.test", "--ca-file", str(tls.ca_file), "--password", smtp.password)
        account = _cli_json(live, "service-account", "add", "qualys", "--folder", "Scan credentials",
                            "--allow-ip", "127.0.0.1/32", "--alert-channel", "secops-mail")
        # Added after the account: readable through the folder grant, no extra step.
        secret = _cli_json(live, "secret", "add", "--folder", "Scan credentials", "--template", "ssh-key",
                           "--name", "linux-root", "--field", "username=root", "--field", f"password={ROOT_PASSWORD}",
                           "--field", "private-key=-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n"
                           "-----END OPENSSH PRIVATE KEY-----", "--field", "private-key-passphrase=pp-123")
        yield Scene(live, smtp, live.token(), account["one_time_password"], secret["number"])
    finally:
        remove_live_server(live)
        smtp.stop()


@pytest.fixture
def ca_bundle(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(scene.live.ca_file))  # the SDK uses requests' defaults


def _tss(scene: Scene, password: str | None = None) -> SecretServer:
    base = scene.live.url + "/secretserver"
    return SecretServer(base, PasswordGrantAuthorizer(base, "qualys", password or scene.scanner_password))


def test_python_tss_sdk_reads_the_secret_like_from_secret_server(scene: Scene, ca_bundle: None) -> None:
    server = _tss(scene)
    secret = ServerSecret(**server.get_secret(scene.secret_number, fetch_file_attachments=False))
    assert secret.name == "linux-root" and secret.secret_template_name == "Unix Account (SSH)"
    assert secret.fields["username"].value == "root"
    assert secret.fields["password"].value == ROOT_PASSWORD
    assert secret.fields["private-key"].value.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert secret.fields["private-key-passphrase"].value == "pp-123"
    by_path = server.get_secret_by_path("\\Scan credentials\\linux-root", fetch_file_attachments=False)
    assert by_path["id"] == scene.secret_number
    found = json.loads(server.search_secrets({"filter.searchText": "linux"}))
    assert [r["name"] for r in found["records"]] == ["linux-root"]
    assert server.get_secret_ids_by_folderid(secret.folder_id) == [scene.secret_number]


def test_python_tss_sdk_sees_clear_errors(scene: Scene, ca_bundle: None) -> None:
    with pytest.raises(SecretServerClientError) as wrong:
        _tss(scene, "not-the-password").get_secret(scene.secret_number)
    assert wrong.value.message == "invalid username or password"
    with pytest.raises(SecretServerClientError) as missing:
        _tss(scene).get_secret(987654)
    assert "not found" in missing.value.message


def test_hvac_reads_the_secret_through_kv_v2(scene: Scene) -> None:
    token = scene.live.token("qualys")
    client = hvac.Client(url=scene.live.url, token=token, verify=str(scene.live.ca_file), timeout=10)
    assert client.is_authenticated()
    answer = client.secrets.kv.v2.read_secret_version(path="Scan credentials/linux-root", mount_point="secret",
                                                      raise_on_deleted_version=True)
    assert answer["data"]["data"]["username"] == "root"
    assert answer["data"]["data"]["password"] == ROOT_PASSWORD
    assert answer["data"]["metadata"]["version"] == 1
    # hvac sends the HTTP method LIST on the same keep-alive connection as the reads before it.
    assert client.secrets.kv.v2.list_secrets(path="Scan credentials", mount_point="secret")["data"]["keys"] == [
        "linux-root"]
    assert client.secrets.kv.v2.list_secrets(path="", mount_point="secret")["data"]["keys"] == ["Scan credentials/"]
    again = client.secrets.kv.v2.read_secret_version(path="Scan credentials/linux-root", mount_point="secret",
                                                     raise_on_deleted_version=True)
    assert again["data"]["data"]["username"] == "root"  # the connection goes on serving after a LIST
    listing = client.adapter.get("/v1/secret/metadata/Scan credentials", params={"list": "true"})
    assert listing["data"]["keys"] == ["linux-root"]  # Vault's documented GET ?list=true is the same
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v2.list_secrets(path="Scan credentials/none-here", mount_point="secret")
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v2.read_secret_version(path="Scan credentials/nope", mount_point="secret",
                                                 raise_on_deleted_version=True)
    assert not hvac.Client(url=scene.live.url, token="cvt_bogus", verify=str(scene.live.ca_file)).is_authenticated()


def test_list_as_the_first_request_and_unknown_methods_still_refused(scene: Scene) -> None:
    token = scene.live.token("qualys")
    fresh = hvac.Client(url=scene.live.url, token=token, verify=str(scene.live.ca_file), timeout=10)
    assert fresh.secrets.kv.v2.list_secrets(path="Scan credentials", mount_point="secret")["data"]["keys"] == [
        "linux-root"]
    with httpx.Client(verify=scene.live.ssl_context(), timeout=10) as plain:
        brew = plain.request("BREW", scene.live.url + "/api/v1/health")
        assert brew.status_code == 400 and "Invalid HTTP request" in brew.text
        # LIST on a path without a LIST route is the usual 405, not a parser error
        assert plain.request("LIST", scene.live.url + "/api/v1/health").status_code == 405


def test_scanner_from_another_address_is_refused_and_security_is_alerted(scene: Scene) -> None:
    """The allowlist admits only 127.0.0.1; the same account from 127.0.0.2 fails and an email goes out."""
    transport = httpx.HTTPTransport(local_address="127.0.0.2", verify=scene.live.ssl_context())
    with httpx.Client(transport=transport, timeout=10) as elsewhere:
        response = elsewhere.post(scene.live.url + "/secretserver/oauth2/token",
                                  data={"grant_type": "password", "username": "qualys",
                                        "password": scene.scanner_password})
    assert response.status_code == 400  # answered like any failed login: nothing says the address was the reason
    assert response.json()["message"] == "invalid username or password"
    mail = scene.smtp.mailbox.wait_for(lambda m: "127.0.0.2" in m.get_payload())
    assert mail["Subject"] == "[certvault] Service account qualys failed to log in"
    assert "qualys failed to log in from 127.0.0.2: address not allowed" in mail.get_payload()
    audit = _cli_json(scene.live, "audit", "list", "--action", "auth.login", "--user", "qualys")
    assert any(r["ip"] == "127.0.0.2" and r["outcome"] == "denied" for r in audit["items"])


def test_check_out_is_exclusive_between_two_scanners_at_once(scene: Scene) -> None:
    live = scene.live
    secret = _cli_json(live, "secret", "add", "--folder", "Scan credentials", "--template", "password",
                       "--name", "db-admin", "--field", "username=dba", "--field", "password=Db-Adm1n-pw")
    live.cli("secret", "update", secret["id"], "--checkout")
    second = _cli_json(live, "service-account", "add", "nessus", "--folder", "Scan credentials")
    tokens = [_oauth(scene, "qualys", scene.scanner_password), _oauth(scene, "nessus", second["one_time_password"])]
    results: list[httpx.Response] = []
    barrier = threading.Barrier(2)

    def read(token: str) -> None:
        with httpx.Client(verify=live.ssl_context(), timeout=20) as client:
            barrier.wait()
            results.append(client.get(f"{live.url}/secretserver/api/v1/secrets/{secret['number']}",
                                      headers={"Authorization": f"Bearer {token}"}))

    threads = [threading.Thread(target=read, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409]
    winner = next(r for r in results if r.status_code == 200).json()
    loser = next(r for r in results if r.status_code == 409).json()
    assert winner["checkedOut"] is True
    assert loser["errorCode"] == "API_CheckOutRequired"
    assert f"checked out by {winner['checkOutUserDisplayName']}" in loser["message"]


def _oauth(scene: Scene, user: str, password: str) -> str:
    with httpx.Client(verify=scene.live.ssl_context(), timeout=10) as client:
        response = client.post(scene.live.url + "/secretserver/oauth2/token",
                               data={"grant_type": "password", "username": user, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def test_cli_update_of_a_secret_checked_out_by_someone_else_is_refused(scene: Scene) -> None:
    live = scene.live
    secret = _cli_json(live, "secret", "add", "--folder", "Scan credentials", "--template", "password", "--name",
                       "edit-while-held", "--field", "username=u", "--field", "password=Held-pass-1")
    live.cli("secret", "update", secret["id"], "--checkout")
    held = httpx.post(f"{live.url}/api/v1/vault/secrets/{secret['id']}/checkout", json={"minutes": 20},
                      headers={"Authorization": f"Bearer {scene.admin_token}"}, verify=live.ssl_context(), timeout=10)
    assert held.status_code == 200, held.text
    refused = live.cli("secret", "update", secret["id"], "--field", "password=Other-pass-2", check=False)
    assert refused.returncode == 1
    until = held.json()["expires_at"][:16].replace("T", " ")
    assert f"checked out by admin until {until} UTC" in " ".join(refused.stderr.split())
    shown = _cli_json(live, "secret", "list", "--search", "edit-while-held")["items"][0]
    assert shown["version"] == 1


def test_disabled_web_services_answer_403_to_every_client(scene: Scene, ca_bundle: None) -> None:
    live = scene.live
    headers = {"Authorization": f"Bearer {scene.admin_token}"}
    with httpx.Client(verify=live.ssl_context(), timeout=10, headers=headers) as admin:
        assert admin.put(live.url + "/api/v1/settings/web_services.enabled", json={"value": False}).status_code == 200
        try:
            token_answer = httpx.post(live.url + "/secretserver/oauth2/token", verify=live.ssl_context(),
                                      data={"grant_type": "password", "username": "qualys",
                                            "password": scene.scanner_password})
            kv = admin.get(live.url + "/v1/secret/data/Scan credentials/linux-root")
            hardening = admin.get(live.url + "/api/v1/vault/hardening").json()
        finally:
            admin.put(live.url + "/api/v1/settings/web_services.enabled", json={"value": True})
    assert token_answer.status_code == 403 and "web services are disabled" in token_answer.json()["message"]
    assert kv.status_code == 403 and "web services are disabled" in kv.json()["errors"][1]
    assert next(c for c in hardening["checks"] if c["name"] == "web_services")["summary"].startswith(
        "web services are disabled")


def test_double_locked_secret_is_refused_to_the_service_account(scene: Scene) -> None:
    live = scene.live
    secret = _cli_json(live, "secret", "add", "--folder", "Scan credentials", "--template", "password",
                       "--name", "domain-admin", "--field", "username=da", "--field", "password=D0main-Adm1n")
    admin = httpx.Client(verify=live.ssl_context(), timeout=30,
                         headers={"Authorization": f"Bearer {scene.admin_token}"})
    with admin:
        assert admin.put(live.url + "/api/v1/vault/doublelock/passphrase",
                         json={"passphrase": "admin double lock phrase"}).status_code == 200
        assert admin.post(f"{live.url}/api/v1/vault/secrets/{secret['id']}/doublelock").status_code == 200
    token = _oauth(scene, "qualys", scene.scanner_password)
    answer = httpx.get(f"{live.url}/secretserver/api/v1/secrets/{secret['number']}", verify=live.ssl_context(),
                       headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403
    assert answer.json()["errorCode"] == "API_DoubleLockNoAccess"
    assert "service accounts cannot read double-locked secrets" in answer.json()["message"]


def test_the_database_file_holds_no_plaintext_secret(scene: Scene) -> None:
    dump = "\n".join(sqlite3.connect(scene.live.data_dir / "certvault.db").iterdump())
    assert "linux-root" in dump  # names are searchable metadata
    for secret in (ROOT_PASSWORD, "pp-123", "D0main-Adm1n", scene.smtp.password, scene.scanner_password):
        assert secret not in dump

"""The administration screens through the web forms, as a browser posts them: users, groups, my account (password,
two-factor with a QR code, API tokens), settings, the internal CA; each refusal shown next to its field, each
success confirmed, and errors as styled pages, never JSON."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import pyotp
from cryptography.hazmat.primitives.serialization import pkcs12
from fastapi.testclient import TestClient

from certvault.auth.rbac import Actor
from certvault.container import App
from tests.conftest import create_login, submit_login_form, web_login

HTML = {"accept": "text/html"}


def _admin(app: App, client: TestClient) -> str:
    return web_login(client, create_login(app, "administrator"))


def _user_id(app: App, username: str) -> str:
    with app.transaction() as svc:
        return str(svc.auth.get_user(Actor.system(), username).id)


def test_unknown_addresses_malformed_ids_and_incomplete_forms_are_styled_pages(
        sqlite_app: App, sqlite_client: TestClient) -> None:
    csrf = _admin(sqlite_app, sqlite_client)
    for path in ("/no/such/page", "/certificates/not-a-uuid", "/admin/users/12345"):
        answer = sqlite_client.get(path, headers=HTML)
        assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html"), path
        assert 'id="error-page"' in answer.text and "valid UUID" not in answer.text and '{"detail"' not in answer.text
    missing = sqlite_client.post("/admin/users", data={"csrf_token": csrf}, headers=HTML)
    assert missing.status_code == 422 and 'id="error-page"' in missing.text
    assert "Username is required" in missing.text and "Role is required" in missing.text
    api = sqlite_client.get("/api/v1/users/not-a-uuid", headers={"accept": "application/json"})
    assert api.status_code in (401, 422) and api.headers["content-type"].startswith("application/")


def test_a_user_is_added_edited_disabled_reset_and_deleted(sqlite_app: App, sqlite_client: TestClient) -> None:
    csrf = _admin(sqlite_app, sqlite_client)
    bad = sqlite_client.post("/admin/users", data={"csrf_token": csrf, "username": "bad name!", "role": "user"})
    assert bad.status_code == 400 and 'id="username-error"' in bad.text and 'value="bad name!"' in bad.text
    added = sqlite_client.post("/admin/users", data={"csrf_token": csrf, "username": "dana", "role": "operator",
                                                     "email": "dana@example.com"})
    assert added.status_code == 201 and "User dana created" in added.text
    assert re.search(r'id="otp" class="mono" type="text" readonly value="[^"]{12,}"', added.text)
    dana = _user_id(sqlite_app, "dana")
    nets = sqlite_client.post(f"/admin/users/{dana}", data={"csrf_token": csrf, "role": "operator",
                                                            "allowed_networks": "not-a-net"})
    assert nets.status_code == 400 and 'id="allowed_networks-error"' in nets.text
    saved = sqlite_client.post(f"/admin/users/{dana}", data={"csrf_token": csrf, "role": "auditor",
                                                             "display_name": "Dana D", "email": ""})
    assert saved.status_code == 200 and "User saved." in saved.text and "Dana D" in saved.text
    disabled = sqlite_client.post(f"/admin/users/{dana}/disable", data={"csrf_token": csrf})
    assert "User disabled." in disabled.text and "badge bad" in disabled.text
    reset = sqlite_client.post(f"/admin/users/{dana}/reset-password", data={"csrf_token": csrf})
    assert "Password reset" in reset.text and 'data-copy="otp"' in reset.text
    assert "Yes, delete dana" in reset.text  # the delete button sits behind a confirmation
    deleted = sqlite_client.post(f"/admin/users/{dana}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 200 and "User deleted." in deleted.text and ">dana<" not in deleted.text
    with sqlite_app.transaction() as svc:
        rows, _ = svc.audit.search(Actor.system(), __import__("certvault.audit.service", fromlist=["AuditQuery"])
                                   .AuditQuery(action="user.delete"))
    assert rows and rows[0].details["username"] == "dana"


def test_the_last_administrator_cannot_delete_or_disable_itself(sqlite_app: App, sqlite_client: TestClient) -> None:
    login = create_login(sqlite_app, "administrator")
    csrf = web_login(sqlite_client, login)
    me = _user_id(sqlite_app, login.username)
    page = sqlite_client.get(f"/admin/users/{me}")
    assert "Yes, delete" not in page.text  # no delete button on your own account
    refused = sqlite_client.post(f"/admin/users/{me}/disable", data={"csrf_token": csrf})
    assert refused.status_code == 409 and "last active administrator" in refused.text


def test_groups_and_memberships(sqlite_app: App, sqlite_client: TestClient) -> None:
    csrf = _admin(sqlite_app, sqlite_client)
    create_login(sqlite_app, "user", "erin")
    made = sqlite_client.post("/admin/groups", data={"csrf_token": csrf, "name": "ops", "description": "Operations"})
    assert made.status_code == 200 and "Group created." in made.text
    group = str(made.url).split("/admin/groups/")[1].split("?")[0]
    erin = _user_id(sqlite_app, "erin")
    added = sqlite_client.post(f"/admin/groups/{group}/members", data={"csrf_token": csrf, "member": erin})
    assert "Member added." in added.text and f'href="/admin/users/{erin}">erin<' in added.text
    duplicate = sqlite_client.post("/admin/groups", data={"csrf_token": csrf, "name": "ops"})
    assert duplicate.status_code == 409 and 'id="name-error"' in duplicate.text
    removed = sqlite_client.post(f"/admin/groups/{group}/members/{erin}/remove", data={"csrf_token": csrf})
    assert "Member removed." in removed.text and "No member yet." in removed.text


def test_my_account_two_factor_with_a_qr_code_and_api_tokens(sqlite_app: App, sqlite_client: TestClient) -> None:
    login = create_login(sqlite_app, "user")
    csrf = web_login(sqlite_client, login, "/account")
    wrong = sqlite_client.post("/account/totp/begin", data={"csrf_token": csrf, "password": "wrong-password"})
    assert wrong.status_code == 403 and 'id="totp-password-error"' in wrong.text
    begun = sqlite_client.post("/account/totp/begin", data={"csrf_token": csrf, "password": login.password})
    assert begun.status_code == 200 and '<svg role="img" aria-label="QR code' in begun.text
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', begun.text)
    assert secret
    bad_code = sqlite_client.post("/account/totp/confirm", data={"csrf_token": csrf, "code": "000000"})
    assert bad_code.status_code == 400 and 'id="confirm-code-error"' in bad_code.text
    on = sqlite_client.post("/account/totp/confirm", data={"csrf_token": csrf, "code": pyotp.TOTP(secret[1]).now()})
    assert "Two-factor authentication is on." in on.text and "badge ok" in on.text
    codes = re.findall(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", on.text.split('id="recovery-list"')[1])
    assert len(codes) == 10 and "10 unused recovery codes" in on.text
    made = sqlite_client.post("/account/tokens", data={"csrf_token": csrf, "name": "ci", "days": "30"})
    assert made.status_code == 201 and "shown only once" in made.text
    token = re.search(r'id="new-token" class="mono" type="text" readonly value="([^"]+)"', made.text)
    assert token and sqlite_client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token[1]}"}).is_success
    token_id = re.search(r'<td>ci</td>.*?action="/account/tokens/([0-9a-f-]+)/revoke"', made.text, re.S)
    assert token_id
    revoked = sqlite_client.post(f"/account/tokens/{token_id[1]}/revoke", data={"csrf_token": csrf})
    assert "Token revoked." in revoked.text and f"/account/tokens/{token_id[1]}/revoke" not in revoked.text
    assert sqlite_client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token[1]}"}).status_code == 401

    # A lost device: a recovery code logs in once, in place of the app's code.
    sqlite_client.cookies.clear()
    asked = submit_login_form(sqlite_client, login.username, login.password)
    assert asked.status_code == 401 and "Authenticator code (or a recovery code)" in asked.text
    used = submit_login_form(sqlite_client, login.username, login.password, totp=codes[3].lower())
    assert used.status_code == 303, used.text
    assert "9 unused recovery codes" in sqlite_client.get("/account").text
    sqlite_client.cookies.clear()
    again = submit_login_form(sqlite_client, login.username, login.password, totp=codes[3])
    assert again.status_code == 401 and "invalid username or password" in again.text


def test_password_change_confirms_and_names_the_wrong_field(sqlite_app: App, sqlite_client: TestClient) -> None:
    login = create_login(sqlite_app, "user")
    csrf = web_login(sqlite_client, login, "/account/password")
    wrong = sqlite_client.post("/account/password", data={"csrf_token": csrf, "current_password": "nope-nope-1",
                                                          "new_password": "Another-pass-77"})
    assert wrong.status_code == 403 and 'id="current-error"' in wrong.text
    changed = sqlite_client.post("/account/password", data={"csrf_token": csrf, "current_password": login.password,
                                                            "new_password": "Another-pass-77"})
    assert changed.status_code == 200 and "Your password was changed." in changed.text


def test_settings_are_typed_and_audited(sqlite_app: App, sqlite_client: TestClient) -> None:
    csrf = _admin(sqlite_app, sqlite_client)
    page = sqlite_client.get("/settings")
    assert page.status_code == 200 and "web_services.enabled" in page.text
    bad = sqlite_client.post("/settings/web_services.enabled", data={"csrf_token": csrf, "value": "maybe"})
    assert bad.status_code == 400 and "must be yes or no" in bad.text and 'aria-invalid="true"' in bad.text
    saved = sqlite_client.post("/settings/web_services.enabled", data={"csrf_token": csrf, "value": "no"})
    assert "Setting saved." in saved.text
    with sqlite_app.transaction() as svc:
        assert svc.system.get("web_services.enabled") is False
    user = create_login(sqlite_app, "user")
    web_login(sqlite_client, user)
    refused = sqlite_client.get("/settings", headers=HTML)
    assert refused.status_code == 403 and 'id="error-page"' in refused.text


def test_internal_ca_root_client_certificate_and_revocation(sqlite_app: App, sqlite_client: TestClient) -> None:
    csrf = _admin(sqlite_app, sqlite_client)
    page = sqlite_client.get("/ca")
    assert page.status_code == 200 and 'href="/ca/root.pem"' in page.text
    root = sqlite_client.get("/ca/root.pem")
    assert root.text.startswith("-----BEGIN CERTIFICATE-----") and "attachment" in root.headers["content-disposition"]
    no_password = sqlite_client.post("/ca/client-certificates", data={"csrf_token": csrf, "common_name": "robot",
                                                                      "password": ""})
    assert no_password.status_code == 400 and 'id="password-error"' in no_password.text
    issued = sqlite_client.post("/ca/client-certificates", data={
        "csrf_token": csrf, "common_name": "robot-" + uuid.uuid4().hex[:6], "password": "p12-pass", "days": "30",
        "key": "ec256"})
    assert issued.status_code == 201 and issued.headers["content-type"] == "application/x-pkcs12"
    key, cert, _chain = pkcs12.load_key_and_certificates(issued.content, b"p12-pass")
    assert key is not None and cert is not None
    serial = format(cert.serial_number, "x")
    listed = sqlite_client.get("/ca?profile=client")
    assert serial in listed.text and isinstance(cert.not_valid_after_utc, datetime)
    revoked = sqlite_client.post(f"/ca/issued/{serial}/revoke", data={"csrf_token": csrf, "reason": "4"})
    assert "Certificate revoked." in revoked.text and "badge bad" in revoked.text


def test_a_crash_is_a_styled_page_for_a_browser_and_a_problem_for_the_api(sqlite_app: App) -> None:
    from certvault.server import create_server

    server = create_server(sqlite_app)

    @server.get("/crash-for-test")
    def crash() -> None:
        raise RuntimeError("boom: internal detail")

    with TestClient(server, base_url="https://testserver", raise_server_exceptions=False) as client:
        page = client.get("/crash-for-test", headers=HTML)
        assert page.status_code == 500 and 'id="error-page"' in page.text and "Server error" in page.text
        assert "boom" not in page.text and "Traceback" not in page.text
        api = client.get("/crash-for-test", headers={"accept": "application/json"})
        assert api.status_code == 500 and api.json()["code"] == "internal_error" and "boom" not in api.text

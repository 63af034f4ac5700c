"""The vault web UI through the TestClient: folders, secrets from every template, reveal and copy (audited),
edit and history, check-out, approvals, DoubleLock, protection and lifecycle settings, CSRF on every form."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import csrf_of, web_login
from tests.vault.conftest import VaultScene, module_scene


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, sqlite_template: object) -> Iterator[VaultScene]:
    yield from module_scene(tmp_path_factory, sqlite_template, "web-secrets")


def _values(scene: VaultScene, secret_id: str, who: str = "admin", **headers: str) -> dict[str, Any]:
    answer = scene.get(who, f"/secrets/{secret_id}/values", **headers)
    assert answer.status_code == 200, answer.text
    return {f["slug"]: f.get("value") or f.get("content_base64") for f in answer.json()["fields"]}


def _trail(scene: VaultScene, secret_id: str) -> list[tuple[str, str, str]]:
    return [(e["action"], e["user"], e["outcome"]) for e in scene.get("admin", f"/secrets/{secret_id}/audit").json()]


def _revealed(page: str, slug: str) -> str:
    match = re.search(rf'id="value-{re.escape(slug)}"(?: value="([^"]*)">|>([^<]*)</textarea>)', page)
    assert match, f"{slug} is not revealed on the page"
    return html.unescape(match.group(1) if match.group(1) is not None else match.group(2))


def _new_secret(scene: VaultScene, csrf: str, folder: str, template: str, name: str, data: dict[str, str],
                files: dict[str, tuple[str, bytes]] | None = None) -> str:
    form = {"csrf_token": csrf, "folder": scene.folders.get(folder, folder), "template": template, "name": name,
            **data}
    answer = scene.client.post("/vault/secrets/new", data=form, files=files or None, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"].split("/vault/secrets/")[1].split("?")[0]


def test_admin_creates_a_folder_and_a_secret_then_reveals_and_copies(scene: VaultScene) -> None:
    client = scene.client
    csrf = web_login(client, scene.admin, "/vault")
    assert client.post("/vault/folders", data={"name": "Web"}).status_code == 403  # no CSRF token
    created = client.post("/vault/folders", data={"csrf_token": csrf, "name": "Web", "parent": ""},
                          follow_redirects=False)
    assert created.status_code == 303
    folder_id = created.headers["location"].split("/vault/folders/")[1].split("?")[0]
    page = client.get(created.headers["location"])
    assert "Folder created." in page.text and 'id="folder-tree"' in page.text and ">Web</a>" in page.text
    bad = client.post("/vault/folders", data={"csrf_token": csrf, "name": "a/b", "parent": folder_id})
    assert bad.status_code == 400 and "may not contain" in bad.text
    nowhere = client.post("/vault/folders", data={"csrf_token": csrf, "name": "x", "parent": "no-such-folder"})
    assert nowhere.status_code == 404 and "folder no-such-folder not found" in nowhere.text

    form = client.get(f"/vault/secrets/new?folder={folder_id}&template=password")
    assert 'name="field.password"' in form.text and "Generate" in form.text
    secret_id = _new_secret(scene, csrf, folder_id, "password", "web-db",
                            {"field.username": "dbadmin", "generate_password": "yes", "rotation_days": "90"})
    page = client.get(f"/vault/secrets/{secret_id}")
    assert page.status_code == 200 and "every 90 days" in page.text
    # the user name is not secret: shown as it is; the password stays behind Reveal
    assert 'id="value-username" value="dbadmin"' in page.text and page.headers["cache-control"] == "no-store"
    assert 'id="value-password"' not in page.text and 'value="view:password">Reveal' in page.text

    shown = client.post(f"/vault/secrets/{secret_id}/reveal", data={"csrf_token": csrf, "do": "view:password"})
    generated = _revealed(shown.text, "password")
    assert len(generated) == 24 and generated == _values(scene, secret_id)["password"]
    assert shown.headers["cache-control"] == "no-store"
    copied = client.post(f"/vault/secrets/{secret_id}/reveal", data={"csrf_token": csrf, "do": "copy:password"},
                         headers={"accept": "application/json"})
    assert copied.json() == {"slug": "password", "value": generated}
    trail = _trail(scene, secret_id)
    assert ("secret.view_field", "vault-admin", "success") in trail
    assert ("secret.copy_field", "vault-admin", "success") in trail
    details = {e["action"]: e["details"] for e in scene.get("admin", f"/secrets/{secret_id}/audit").json()}
    assert details["secret.create"]["folder"] == details["secret.view_field"]["folder"] == "Web"  # its path
    assert "secret.copy_field" in client.get(f"/vault/secrets/{secret_id}").text  # the page's own trail


def test_every_template_from_the_forms(scene: VaultScene) -> None:
    csrf = web_login(scene.client, scene.admin, "/vault")
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\r\nAAAAB3\r\n-----END OPENSSH PRIVATE KEY-----"
    ssh = _new_secret(scene, csrf, "Ops/Linux", "ssh-key", "web-ssh",
                      {"field.username": "root", "field.private-key": key, "field.private-key-passphrase": "pp-1"})
    assert _values(scene, ssh)["private-key"] == key.replace("\r\n", "\n")
    api = _new_secret(scene, csrf, "Ops/Linux", "api-credential", "web-api",
                      {"field.key-id": "AKIA1", "field.secret": "s3cr3t-value"})
    assert _values(scene, api) == {"key-id": "AKIA1", "secret": "s3cr3t-value"}
    store = _new_secret(scene, csrf, "Ops/Linux", "keystore", "web-keystore", {"field.password": "changeit"},
                        {"file.file": ("store.p12", b"\x00\x01keystore-bytes")})
    download = scene.client.post(f"/vault/secrets/{store}/download", data={"csrf_token": csrf, "slug": "file"})
    assert download.content == b"\x00\x01keystore-bytes"
    assert 'filename="store.p12"' in download.headers["content-disposition"]
    generic = _new_secret(scene, csrf, "Ops/Linux", "generic", "web-generic",
                          {"key.0": "token", "value.0": "abc-123", "key.1": "region", "value.1": "eu-west",
                           "filekey": "cert"}, {"file.generic": ("c.pem", b"PEM DATA")})
    values = _values(scene, generic)
    assert values["token"] == "abc-123" and values["region"] == "eu-west" and values["cert"] == "UEVNIERBVEE="

    missing = scene.client.post("/vault/secrets/new", data={
        "csrf_token": csrf, "folder": scene.folders["Ops/Linux"], "template": "password", "name": "no-password",
        "field.username": "kept-on-the-form"})
    assert missing.status_code == 400 and "needs the field(s) password" in missing.text
    assert 'value="kept-on-the-form"' in missing.text
    assert scene.get("admin", "/secrets?q=no-password").json()["total"] == 0


def test_edit_keeps_earlier_values_for_owners(scene: VaultScene) -> None:
    secret = scene.secret("Ops/Linux", "web-hist")
    csrf = web_login(scene.client, scene.users["bob"], "/vault")  # edit on Ops/Linux
    assert scene.client.get(f"/vault/secrets/{secret['id']}/edit").status_code == 200
    saved = scene.client.post(f"/vault/secrets/{secret['id']}/edit",
                              data={"csrf_token": csrf, "field.password": "New-pass-2", "field.host": "db02"},
                              follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith("done=edited")
    assert scene.client.get(f"/vault/secrets/{secret['id']}/history").status_code == 403  # owners only
    csrf = web_login(scene.client, scene.users["alice"], "/vault")  # view only
    refused = scene.client.post(f"/vault/secrets/{secret['id']}/edit", data={"csrf_token": csrf, "field.host": "x"})
    assert refused.status_code == 403 and "you need edit permission" in refused.text
    web_login(scene.client, scene.admin, "/vault")
    history = scene.client.get(f"/vault/secrets/{secret['id']}/history")
    assert history.status_code == 200 and "pw-web-hist-Secret1" in history.text
    assert _values(scene, secret["id"])["host"] == "db02"


def test_permissions_through_the_pages(scene: VaultScene) -> None:
    client = scene.client
    csrf = web_login(client, scene.admin, "/vault")
    top = client.post("/vault/folders", data={"csrf_token": csrf, "name": "Perm"}, follow_redirects=False)
    perm = top.headers["location"].split("/vault/folders/")[1].split("?")[0]
    secret_id = _new_secret(scene, csrf, perm, "password", "perm-db",
                            {"field.username": "u", "field.password": "Perm-pass-1"})
    granted = client.post(f"/vault/folders/{perm}/permissions", data={
        "csrf_token": csrf, "principal": "alice", "principal_type": "user", "level": "view"}, follow_redirects=False)
    assert granted.status_code == 303
    assert client.post(f"/vault/secrets/{secret_id}/permissions", data={
        "csrf_token": csrf, "principal": "scanners", "principal_type": "group", "level": "view"},
        follow_redirects=False).status_code == 303
    grants = client.get(f"/vault/secrets/{secret_id}").text
    assert "inherited from Perm" in grants and "scanners" in grants
    web_login(client, scene.users["alice"], "/vault")
    assert "perm-db" in client.get("/vault").text
    web_login(client, scene.users["carol"], "/vault")  # through the group
    assert client.get(f"/vault/secrets/{secret_id}").status_code == 200

    csrf = web_login(client, scene.admin, "/vault")
    settings = client.get(f"/vault/secrets/{secret_id}").text
    assert 'name="inherit_permissions" value="yes" checked' in settings
    assert client.post(f"/vault/secrets/{secret_id}/settings", data={
        "csrf_token": csrf, "checkout_minutes": "30"}, follow_redirects=False).status_code == 303  # inheritance off
    web_login(client, scene.users["alice"], "/vault")
    assert client.get(f"/vault/secrets/{secret_id}").status_code == 404  # no longer hers to see
    web_login(client, scene.users["carol"], "/vault")  # the secret's own grant stays
    assert client.get(f"/vault/secrets/{secret_id}").status_code == 200

    csrf = web_login(client, scene.admin, "/vault")
    user_id = re.search(r'name="principal_id" value="([^"]+)"><input type="hidden" name="principal_type" '
                        r'value="user"', client.get(f"/vault/folders/{perm}").text)
    assert user_id is not None
    revoked = client.post(f"/vault/folders/{perm}/permissions/revoke", data={
        "csrf_token": csrf, "principal_id": user_id.group(1), "principal_type": "user"}, follow_redirects=False)
    assert revoked.status_code == 303
    assert all(g["principal"] != "alice" for g in scene.get("admin", f"/folders/{perm}/permissions").json())
    csrf = web_login(client, scene.users["bob"], "/vault")
    refused = client.post(f"/vault/folders/{scene.folders['Ops/Linux']}/permissions", data={
        "csrf_token": csrf, "principal": "bob", "principal_type": "user", "level": "owner"})
    assert refused.status_code == 403 and "you need owner permission" in refused.text


def test_check_out_in_the_ui_and_edits_while_held_are_409(scene: VaultScene) -> None:
    secret = scene.secret("Ops/Linux", "web-checkout", checkout_enabled=True)
    base = f"/vault/secrets/{secret['id']}"
    csrf = web_login(scene.client, scene.users["alice"], "/vault")
    assert 'action="' + base + '/checkout"' in scene.client.get(base).text
    held = scene.client.post(base + "/checkout", data={"csrf_token": csrf, "minutes": "15"}, follow_redirects=False)
    assert held.status_code == 303 and "You hold it until" in scene.client.get(held.headers["location"]).text

    csrf = web_login(scene.client, scene.users["bob"], "/vault")
    page = scene.client.get(base).text
    assert "Checked out by <strong>alice</strong> until" in page
    blocked = scene.client.post(base + "/reveal", data={"csrf_token": csrf, "do": "view:"})
    assert blocked.status_code == 409 and "checked out by alice" in blocked.text
    edit = scene.client.post(base + "/edit", data={"csrf_token": csrf, "field.host": "db9"})
    assert edit.status_code == 409
    assert re.search(r"checked out by alice until \d{4}-\d\d-\d\d \d\d:\d\d UTC; it cannot be changed", edit.text)

    csrf = web_login(scene.client, scene.admin, "/vault")
    forced = scene.client.post(base + "/checkin", data={"csrf_token": csrf, "force": "yes"}, follow_redirects=False)
    assert forced.status_code == 303
    csrf = web_login(scene.client, scene.users["bob"], "/vault")
    assert scene.client.post(base + "/edit", data={"csrf_token": csrf, "field.host": "db9"},
                             follow_redirects=False).status_code == 303
    assert ("secret.edit", "bob", "denied") in _trail(scene, secret["id"])


def test_access_request_and_the_approvers_queue(scene: VaultScene) -> None:
    secret = scene.secret("Ops/Linux", "web-approval", require_approval=True)
    base = f"/vault/secrets/{secret['id']}"
    csrf = web_login(scene.client, scene.users["bob"], "/vault")
    denied = scene.client.post(base + "/reveal", data={"csrf_token": csrf, "do": "view:password"})
    assert denied.status_code == 403 and "requires approval" in denied.text
    short = scene.client.post(base + "/access-request", data={"csrf_token": csrf, "reason": "x", "minutes": "30"})
    assert short.status_code == 400 and "give a reason" in short.text
    asked = scene.client.post(base + "/access-request", data={"csrf_token": csrf, "reason": "rotate db01 tonight",
                                                              "minutes": "30"}, follow_redirects=False)
    assert asked.status_code == 303

    csrf = web_login(scene.client, scene.admin, "/vault")
    assert "1 waiting" in scene.client.get("/vault").text
    queue = scene.client.get("/vault/requests").text
    assert "rotate db01 tonight" in queue and "Ops/Linux/web-approval" in queue
    request_id = re.search(r'action="/vault/requests/([0-9a-f-]+)"', queue)
    assert request_id is not None
    decided = scene.client.post(f"/vault/requests/{request_id.group(1)}", data={
        "csrf_token": csrf, "decision": "approve", "comment": "ok"}, follow_redirects=False)
    assert decided.status_code == 303

    csrf = web_login(scene.client, scene.users["bob"], "/vault")
    assert "Approved" in scene.client.get("/vault/requests").text
    shown = scene.client.post(base + "/reveal", data={"csrf_token": csrf, "do": "view:password"})
    assert _revealed(shown.text, "password") == "pw-web-approval-Secret1"

    csrf = web_login(scene.client, scene.admin, "/vault")
    unconfirmed = scene.client.post(base + "/delete", data={"csrf_token": csrf})
    assert unconfirmed.status_code == 400 and "tick the confirmation box" in unconfirmed.text
    deleted = scene.client.post(base + "/delete", data={"csrf_token": csrf, "confirm": "yes"}, follow_redirects=False)
    assert deleted.headers["location"] == f"/vault/folders/{scene.folders['Ops/Linux']}?done=deleted"
    assert scene.client.get(base).status_code == 404
    web_login(scene.client, scene.users["bob"], "/vault")
    assert scene.client.get("/vault/requests").status_code == 200  # requests of deleted secrets drop out


def test_double_lock_from_the_pages(scene: VaultScene) -> None:
    secret = scene.secret("Ops/Linux/Private", "web-dl")
    base = f"/vault/secrets/{secret['id']}"
    csrf = web_login(scene.client, scene.users["dave"], "/vault")
    assert "Create passphrase" in scene.client.get("/vault/doublelock").text
    differ = scene.client.post("/vault/doublelock", data={"csrf_token": csrf, "passphrase": "dave long phrase",
                                                          "confirm": "something else"})
    assert differ.status_code == 400 and "differ" in differ.text
    short = scene.client.post("/vault/doublelock", data={"csrf_token": csrf, "passphrase": "short",
                                                         "confirm": "short"})
    assert short.status_code == 400 and "at least 10 characters" in short.text
    assert scene.client.post("/vault/doublelock", data={"csrf_token": csrf, "passphrase": "dave long phrase",
                                                        "confirm": "dave long phrase"},
                             follow_redirects=False).status_code == 303
    assert scene.client.post(base + "/doublelock", data={"csrf_token": csrf, "action": "enable"},
                             follow_redirects=False).status_code == 303
    missing = scene.client.post(base + "/reveal", data={"csrf_token": csrf, "do": "view:password"})
    assert missing.status_code == 403 and "give your DoubleLock passphrase" in missing.text
    shown = scene.client.post(base + "/reveal", data={"csrf_token": csrf, "do": "view:password",
                                                      "passphrase": "dave long phrase"})
    assert _revealed(shown.text, "password") == "pw-web-dl-Secret1"
    edit = scene.client.post(base + "/edit", data={"csrf_token": csrf, "field.password": "Other-pass-9",
                                                   "name": "web-dl-renamed"})
    assert edit.status_code == 403 and "give your DoubleLock passphrase" in edit.text

    csrf = web_login(scene.client, scene.admin, "/vault")
    refused = scene.client.post(base + "/reveal", data={"csrf_token": csrf, "do": "view:password",
                                                        "passphrase": "dave long phrase"})
    assert refused.status_code == 403 and "DoubleLock" in refused.text
    meta = scene.get("admin", f"/secrets/{secret['id']}").json()
    assert (meta["name"], meta["version"], meta["protection"]["double_lock"]) == ("web-dl", 1, True)


def test_hide_password_and_lifecycle_settings(scene: VaultScene) -> None:
    secret = scene.secret("Ops/Linux", "web-settings")
    base = f"/vault/secrets/{secret['id']}"
    csrf = web_login(scene.client, scene.admin, "/vault")
    form = {"csrf_token": csrf, "checkout_minutes": "30", "hide_password": "yes", "inherit_permissions": "yes",
            "expires_at": "2027-01-31", "rotation_days": "30"}
    saved = scene.client.post(base + "/settings", data=form, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith("done=settings")
    page = scene.client.get(saved.headers["location"]).text
    assert "Settings saved." in page and "2027-01-31" in page and "every 30 days" in page
    assert "Nothing changed." in scene.client.get(scene.client.post(base + "/settings", data=form,
                                                                    follow_redirects=False).headers["location"]).text
    bad = scene.client.post(base + "/settings", data={**form, "expires_at": "31/01/2027", "rotation_days": "7"})
    assert bad.status_code == 400 and "must be a date like" in bad.text
    assert scene.get("admin", f"/secrets/{secret['id']}").json()["rotation_days"] == 30

    csrf = web_login(scene.client, scene.users["bob"], "/vault")
    shown = scene.client.post(base + "/reveal", data={"csrf_token": csrf, "do": "view:"})
    assert "hidden: usable by integrations, not displayed" in shown.text and "pw-web-settings" not in shown.text
    assert _revealed(shown.text, "username") == "svc"


def test_every_form_needs_the_csrf_token(scene: VaultScene) -> None:
    secret = scene.secret("Ops/Linux", "web-csrf")
    web_login(scene.client, scene.admin, "/vault")
    folder, base = scene.folders["Ops"], f"/vault/secrets/{secret['id']}"
    paths = ["/vault/folders", f"/vault/folders/{folder}/permissions", f"/vault/folders/{folder}/permissions/revoke",
             f"/vault/folders/{folder}/inheritance", "/vault/secrets/new", base + "/reveal", base + "/download",
             base + "/edit", base + "/history", base + "/checkout", base + "/checkin", base + "/settings",
             base + "/permissions", base + "/permissions/revoke", base + "/access-request", base + "/doublelock",
             base + "/delete", "/vault/password/generate", "/vault/doublelock", "/vault/service-accounts",
             "/vault/notifications/channels", "/vault/notifications/subscriptions"]
    for path in paths:
        answer = scene.client.post(path, data={"csrf_token": "forged"})
        assert answer.status_code == 403 and "CSRF" in answer.text, path
    assert csrf_of(scene.client.get(base).text)

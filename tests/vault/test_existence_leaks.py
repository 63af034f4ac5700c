"""A secret or folder someone may not see answers exactly like one that does not exist, on every vault path.

Secret Server ids are sequential: were "not yours" a 403 naming the secret and "absent" a 404, walking the ids
would list every secret's name. Here both are the same 404 (apart from the id the caller sent), without the
name, through the REST API (direct route included), the Secret Server API, Vault KV v2 and the web pages; the
audit log records the real reason.
"""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient

from certvault.container import App
from tests.conftest import Login, create_login, web_login

NAME = "bob-db"


@pytest.fixture
def scene(app: App, client: TestClient) -> tuple[Login, Login, dict[str, str]]:
    admin = create_login(app, "administrator", "leak-admin")
    mallory = create_login(app, "user", "mallory")
    folder = client.post("/api/v1/vault/folders", json={"name": "Finance"}, headers=admin.headers).json()
    secret = client.post("/api/v1/vault/secrets", headers=admin.headers, json={
        "folder": folder["id"], "name": NAME, "template": "password",
        "fields": {"username": "bob", "password": "B0b-db-Secret!"}}).json()
    ids = {"secret": secret["id"], "number": str(secret["number"]), "folder": folder["id"],
           "folder_number": str(folder["number"])}
    return admin, mallory, ids


def same(client: TestClient, headers: dict[str, str], method: str, template: str, real: str, unknown: str,
         **kwargs: object) -> int:
    """Send the request for the real id and for an unknown one: the same status and body (the id aside)."""
    mine = client.request(method, template.format(real), headers=headers, **kwargs)  # type: ignore[arg-type]
    other = client.request(method, template.format(unknown), headers=headers, **kwargs)  # type: ignore[arg-type]
    seen = (mine.status_code, _without(mine.text, real))
    assert seen == (other.status_code, _without(other.text, unknown)), (method, template)
    assert NAME not in mine.text and "Finance" not in mine.text
    return mine.status_code


def _without(text: str, ref: str) -> str:
    """`text` with the id the caller sent replaced (as a whole token: "1" is not replaced inside "100")."""
    return re.sub(rf"(?<![0-9A-Za-z-]){re.escape(ref)}(?![0-9A-Za-z-])", "ID", text)


REST = [
    ("GET", "/api/v1/vault/secrets/{}"), ("GET", "/api/v1/vault/secrets/{}/values"),
    ("GET", "/api/v1/vault/secrets/{}/values?via=fastapi"), ("GET", "/api/v1/vault/secrets/{}/fields/password"),
    ("POST", "/api/v1/vault/secrets/{}/fields/password/copy"), ("GET", "/api/v1/vault/secrets/{}/export"),
    ("GET", "/api/v1/vault/secrets/{}/history"), ("GET", "/api/v1/vault/secrets/{}/audit"),
    ("GET", "/api/v1/vault/secrets/{}/permissions"), ("DELETE", "/api/v1/vault/secrets/{}"),
    ("POST", "/api/v1/vault/secrets/{}/checkout"), ("POST", "/api/v1/vault/secrets/{}/checkin"),
    ("POST", "/api/v1/vault/secrets/{}/doublelock"), ("DELETE", "/api/v1/vault/secrets/{}/permissions/mallory"),
]
REST_WITH_BODY = [
    ("PATCH", "/api/v1/vault/secrets/{}", {"fields": {"password": "Mall0ry-was-here!"}}),
    ("PATCH", "/api/v1/vault/secrets/{}/settings", {"hide_password": True}),
    ("POST", "/api/v1/vault/secrets/{}/permissions", {"principal": "mallory", "level": "owner"}),
    ("POST", "/api/v1/vault/secrets/{}/access-requests", {"reason": "let me in", "minutes": 30}),
    ("POST", "/api/v1/vault/secrets/{}/doublelock/disable", {"doublelock_passphrase": "x" * 12}),
    ("POST", "/api/v1/vault/secrets/{}/doublelock/share", {"user": "mallory", "doublelock_passphrase": "x" * 12}),
]


def test_rest_answers_alike_for_absent_and_not_yours(client: TestClient, scene: tuple[Login, Login, dict]) -> None:
    _admin, mallory, ids = scene
    unknown = str(uuid.uuid4())
    for method, path in REST:
        assert same(client, mallory.headers, method, path, ids["secret"], unknown) == 404, path
    for method, path, body in REST_WITH_BODY:
        assert same(client, mallory.headers, method, path, ids["secret"], unknown, json=body) == 404, path
    answer = client.get(f"/api/v1/vault/secrets/{ids['secret']}/values", headers=mallory.headers).json()
    assert answer["detail"] == f"secret {ids['secret']} not found among the secrets you can access"


def test_folders_answer_alike(client: TestClient, scene: tuple[Login, Login, dict]) -> None:
    _admin, mallory, ids = scene
    unknown = str(uuid.uuid4())
    for method, path, body in [
        ("GET", "/api/v1/vault/folders/{}", None), ("GET", "/api/v1/vault/folders/{}/permissions", None),
        ("PUT", "/api/v1/vault/folders/{}/inheritance", {"inherit": False}),
        ("POST", "/api/v1/vault/folders/{}/permissions", {"principal": "mallory", "level": "owner"}),
        ("DELETE", "/api/v1/vault/folders/{}/permissions/mallory", None),
    ]:
        assert same(client, mallory.headers, method, path, ids["folder"], unknown, json=body) == 404, path
    assert same(client, mallory.headers, "GET", "/api/v1/vault/secrets?folder={}", ids["folder"], unknown) == 200
    for parent in (ids["folder"], unknown):  # a secret or a folder created in it
        created = client.post("/api/v1/vault/secrets", headers=mallory.headers, json={
            "folder": parent, "name": "mine", "template": "password", "fields": {"password": "Mall0ry-pass!"}})
        assert created.status_code == 404 and created.json()["detail"] == \
            f"folder {parent} not found among the folders you can access"
        sub = client.post("/api/v1/vault/folders", json={"name": "sub", "parent": parent}, headers=mallory.headers)
        assert sub.status_code == 404 and "Finance" not in sub.text


def test_secret_server_answers_alike(client: TestClient, scene: tuple[Login, Login, dict]) -> None:
    _admin, mallory, ids = scene
    unknown = str(int(ids["number"]) + 1000)
    for method, path, body in [
        ("GET", "/secretserver/api/v1/secrets/{}", None), ("GET", "/secretserver/api/v1/secrets/{}/state", None),
        ("GET", "/secretserver/api/v1/secrets/{}/fields/password", None),
        ("GET", "/secretserver/api/v1/secrets/{}/audits", None),
        ("POST", "/secretserver/api/v1/secrets/{}/check-out", None),
        ("POST", "/secretserver/api/v1/secrets/{}/check-in", None),
        ("POST", "/secretserver/api/v1/secrets/{}/restricted", {}),
    ]:
        assert same(client, mallory.headers, method, path, ids["number"], unknown, json=body) == 404, path
    answer = client.get(f"/secretserver/api/v1/secrets/{ids['number']}", headers=mallory.headers).json()
    assert answer == {"errorCode": "API_NotFound",
                      "message": f"secret {ids['number']} not found among the secrets you can access"}
    unknown_folder = str(int(ids["folder_number"]) + 1000)
    assert same(client, mallory.headers, "GET", "/secretserver/api/v1/folders/{}", ids["folder_number"],
                unknown_folder) == 404
    assert same(client, mallory.headers, "GET", "/secretserver/api/v1/folders/lookup?filter.parentFolderId={}",
                ids["folder_number"], unknown_folder) == 404
    for path in ("/secretserver/api/v1/secrets?filter.folderId={}", "/secretserver/api/v1/secrets/search-total"
                 "?filter.folderId={}"):  # searching a folder: nothing found either way
        assert same(client, mallory.headers, "GET", path, ids["folder_number"], unknown_folder) == 200


def test_vault_kv_answers_alike(client: TestClient, scene: tuple[Login, Login, dict]) -> None:
    _admin, mallory, _ids = scene
    headers = {"X-Vault-Token": mallory.token}
    for template in ("/v1/secret/data/Finance/{}", "/v1/secret/metadata/Finance/{}"):
        mine = client.get(template.format(NAME), headers=headers)
        other = client.get(template.format("no-such-secret"), headers=headers)
        assert (mine.status_code, mine.json()) == (other.status_code, other.json()) == (404, {"errors": []})
    listing = client.get("/v1/secret/metadata/Finance", params={"list": "true"}, headers=headers)
    assert (listing.status_code, listing.json()) == (404, {"errors": []})


def test_the_audit_log_records_the_real_reason(client: TestClient, scene: tuple[Login, Login, dict]) -> None:
    admin, mallory, ids = scene
    assert client.get(f"/api/v1/vault/secrets/{ids['secret']}/values", headers=mallory.headers).status_code == 404
    rows = client.get("/api/v1/audit", params={"user": "mallory", "target_id": ids["secret"]},
                      headers=admin.headers).json()["items"]
    assert [(r["action"], r["outcome"], r["details"]["reason"], r["details"]["name"]) for r in rows] == [
        ("secret.view", "denied", "no permission on the secret", NAME)]


def test_web_pages_answer_alike(client: TestClient, scene: tuple[Login, Login, dict]) -> None:
    _admin, mallory, ids = scene
    web_login(client, mallory, "/vault")
    unknown = str(uuid.uuid4())
    mine, other = (client.get(f"/vault/secrets/{ref}") for ref in (ids["secret"], unknown))
    assert mine.status_code == other.status_code == 404
    assert NAME not in mine.text and _without(mine.text, ids["secret"]) == _without(other.text, unknown)


def test_someone_who_can_view_still_hears_why_not(client: TestClient, scene: tuple[Login, Login, dict]) -> None:
    """Past view, the secret is no secret to the caller: a 403 that says what is missing."""
    admin, mallory, ids = scene
    client.post(f"/api/v1/vault/secrets/{ids['secret']}/permissions", json={"principal": "mallory", "level": "view"},
                headers=admin.headers)
    changed = client.patch(f"/api/v1/vault/secrets/{ids['secret']}", json={"fields": {"password": "Mall0ry-pw!"}},
                           headers=mallory.headers)
    assert changed.status_code == 403 and changed.json()["detail"] == f"you need edit permission on secret {NAME}"

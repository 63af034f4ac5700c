"""Changing an approval-gated secret needs the same approved request as reading it (owners need none)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from certvault.container import App
from tests.conftest import web_login
from tests.vault.conftest import build_scene


def _password(scene, secret_id: str) -> str:  # type: ignore[no-untyped-def]
    fields = scene.get("admin", f"/secrets/{secret_id}/values").json()["fields"]
    return str({f["slug"]: f["value"] for f in fields}["password"])


def test_an_editor_without_approval_cannot_overwrite_the_value(app: App, client: TestClient) -> None:
    scene = build_scene(app, client)
    secret = scene.secret("Ops/Linux", "gated-db", require_approval=True)  # bob edits Ops/Linux
    path = f"/api/v1/vault/secrets/{secret['id']}"

    refused = client.patch(path, json={"fields": {"password": "Bob-overwrote-1!"}}, headers=scene.as_("bob"))
    assert refused.status_code == 403 and "requires approval" in refused.json()["detail"]
    renamed = client.patch(path, json={"name": "gated-db-old"}, headers=scene.as_("bob"))
    assert renamed.status_code == 403
    assert _password(scene, secret["id"]) == "pw-gated-db-Secret1"
    stored = scene.get("admin", f"/secrets/{secret['id']}").json()
    assert (stored["name"], stored["version"]) == ("gated-db", 1)

    request = scene.post("bob", f"/secrets/{secret['id']}/access-requests", {"reason": "rotate it", "minutes": 30})
    assert scene.post("admin", f"/access-requests/{request.json()['id']}/decision", {"approve": True}).status_code \
        == 200
    changed = client.patch(path, json={"fields": {"password": "Bob-rotated-2!"}}, headers=scene.as_("bob"))
    assert changed.status_code == 200, changed.text
    assert _password(scene, secret["id"]) == "Bob-rotated-2!"

    events = scene.get("admin", f"/secrets/{secret['id']}/audit").json()
    trail = [(e["action"], e["user"], e["outcome"]) for e in events]
    assert trail.count(("secret.edit", "bob", "denied")) == 2
    assert ("secret.edit", "bob", "success") in trail
    denied = [e for e in events if e["outcome"] == "denied"]
    assert all(e["details"]["state"] == "RequiresApproval" for e in denied)


def test_owners_change_it_without_a_request(app: App, client: TestClient) -> None:
    scene = build_scene(app, client)
    secret = scene.secret("Ops/Linux/Private", "gated-owned", require_approval=True)  # dave owns Private
    changed = client.patch(f"/api/v1/vault/secrets/{secret['id']}", json={"fields": {"password": "Dave-owns-it-1!"}},
                           headers=scene.as_("dave"))
    assert changed.status_code == 200, changed.text


def test_the_web_edit_form_is_refused_too(app: App, client: TestClient) -> None:
    scene = build_scene(app, client)
    secret = scene.secret("Ops/Linux", "gated-web", require_approval=True)
    csrf = web_login(client, scene.users["bob"], "/vault")
    page = client.post(f"/vault/secrets/{secret['id']}/edit", data={
        "csrf_token": csrf, "name": "gated-web", "field.password": "Bob-web-try-1!"}, follow_redirects=False)
    assert page.status_code == 403 and "requires approval" in page.text
    assert _password(scene, secret["id"]) == "pw-gated-web-Secret1"

"""Who can read what, table-driven through the REST API: user × group × folder inheritance × protection."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from certvault.container import App
from tests.conftest import api_client, submit_login_form
from tests.vault.conftest import VaultScene, build_scene


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, sqlite_template: object) -> Iterator[VaultScene]:
    import shutil

    from certvault.container import build_app
    from tests.conftest import make_settings

    data = tmp_path_factory.mktemp("matrix") / "data"
    shutil.copytree(sqlite_template, data)  # type: ignore[arg-type]
    app: App = build_app(make_settings(data), run_migrations=False)
    with api_client(app) as client:
        scene = build_scene(app, client)
        for folder in ("Ops", "Ops/Linux", "Ops/Linux/Private", "Scan"):
            scene.secret(folder, folder.replace("/", "-").lower())
        scene.secret("Ops/Linux", "approval", require_approval=True)
        scene.secret("Ops/Linux", "checkout", checkout_enabled=True)
        scene.secret("Ops/Linux", "hidden", hide_password=True)
        yield scene
    app.close()


def _id(scene: VaultScene, name: str) -> str:
    page = scene.get("admin", f"/secrets?q={name}").json()
    return str(next(i["id"] for i in page["items"] if i["name"] == name))


# (user, secret, expected status reading values, expected fields or error fragment)
MATRIX = [
    # direct folder grant, and inheritance into subfolders
    ("alice", "ops", 200, "password"),
    ("alice", "ops-linux", 200, "password"),
    ("bob", "ops", 404, "not found among the secrets you can access"),
    ("bob", "ops-linux", 200, "password"),
    # a folder that breaks inheritance: parents' grants stop there
    ("alice", "ops-linux-private", 404, "not found among the secrets you can access"),
    ("bob", "ops-linux-private", 404, "not found among the secrets you can access"),
    ("dave", "ops-linux-private", 200, "password"),
    ("dave", "ops-linux", 404, "not found among the secrets you can access"),
    # group membership
    ("carol", "scan", 200, "password"),
    ("alice", "scan", 404, "not found among the secrets you can access"),
    # protection: approval (view/edit need an approved request; owners do not)
    ("alice", "approval", 403, "requires approval"),
    ("bob", "approval", 403, "requires approval"),
    ("admin", "approval", 200, "password"),
    # protection: check-out required for people unless they ask for it
    ("alice", "checkout", 409, "requires check-out"),
    # protection: hidden passwords are withheld, the rest is shown
    ("alice", "hidden", 200, "withheld"),
    ("admin", "hidden", 200, "withheld"),
]


@pytest.mark.parametrize(("user", "secret", "status", "expect"), MATRIX)
def test_reading_values(scene: VaultScene, user: str, secret: str, status: int, expect: str) -> None:
    response = scene.get(user, f"/secrets/{_id(scene, secret)}/values")
    assert response.status_code == status, response.text
    body = response.json()
    if status == 200 and expect == "password":
        assert {f["slug"]: f["value"] for f in body["fields"]}["password"] == f"pw-{secret}-Secret1"
    elif expect == "withheld":
        assert body["withheld"] == ["password"] and [f["slug"] for f in body["fields"]] == ["username"]
    else:
        assert expect in body["detail"]


@pytest.mark.parametrize(("user", "visible"), [
    ("alice", {"ops", "ops-linux", "approval", "checkout", "hidden"}),
    ("bob", {"ops-linux", "approval", "checkout", "hidden"}),
    ("carol", {"scan"}),
    ("dave", {"ops-linux-private"}),
])
def test_listing_shows_only_readable_secrets(scene: VaultScene, user: str, visible: set[str]) -> None:
    assert {i["name"] for i in scene.get(user, "/secrets").json()["items"]} == visible


@pytest.mark.parametrize(("user", "status"), [("alice", 403), ("bob", 200), ("dave", 404)])
def test_editing_needs_edit_permission(scene: VaultScene, user: str, status: int) -> None:
    response = scene.client.patch(f"/api/v1/vault/secrets/{_id(scene, 'ops-linux')}",
                                  json={"fields": {"host": f"db-{user}"}}, headers=scene.as_(user))
    assert response.status_code == status, response.text


def test_a_new_secret_in_a_folder_is_readable_by_whoever_reads_the_folder(scene: VaultScene) -> None:
    created = scene.secret("Scan", "fresh-scan-credential")
    assert scene.get("carol", f"/secrets/{created['id']}/values").status_code == 200


def test_checkout_on_request_then_others_see_who_has_it(scene: VaultScene) -> None:
    secret_id = _id(scene, "checkout")
    mine = scene.get("alice", f"/secrets/{secret_id}/values?auto_checkout=true")
    assert mine.status_code == 200 and mine.json()["secret"]["checked_out"]["user"] == "alice"
    theirs = scene.get("bob", f"/secrets/{secret_id}")
    assert theirs.json()["checked_out"]["user"] == "alice" and theirs.json()["state"] == "RequiresCheckout"
    blocked = scene.get("bob", f"/secrets/{secret_id}/values?auto_checkout=true")
    assert blocked.status_code == 409 and "checked out by alice" in blocked.json()["detail"]
    assert scene.post("alice", f"/secrets/{secret_id}/checkin").status_code == 200
    assert scene.get("bob", f"/secrets/{secret_id}/values?auto_checkout=true").status_code == 200


def test_auditors_cannot_use_the_vault(scene: VaultScene, sqlite_app: App) -> None:
    client: TestClient = scene.client
    from tests.conftest import create_login

    app = client.app.state.certvault  # type: ignore[attr-defined]
    auditor = create_login(app, "auditor")
    assert client.get("/api/v1/vault/secrets", headers=auditor.headers).status_code == 403


def test_vault_pages_show_readable_secrets_and_the_trail(scene: VaultScene) -> None:
    client = scene.client
    login = submit_login_form(client, "carol", scene.users["carol"].password)
    assert login.status_code == 303
    page = client.get("/vault")
    assert page.status_code == 200 and "scan" in page.text and "ops-linux" not in page.text
    detail = client.get(f"/vault/secrets/{_id(scene, 'scan')}")
    assert detail.status_code == 200 and "secret.create" in detail.text
    assert "pw-scan-Secret1" not in detail.text  # values are not on the page
    client.cookies.clear()

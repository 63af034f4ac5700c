"""A vault scene through the real API: folders, users, a group, grants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from certvault.container import App
from tests.conftest import Login, create_login


@dataclass
class VaultScene:
    client: TestClient
    admin: Login
    users: dict[str, Login]
    folders: dict[str, str]  # path -> id

    def as_(self, who: str) -> dict[str, str]:
        return (self.admin if who == "admin" else self.users[who]).headers

    def post(self, who: str, path: str, body: Any = None) -> Any:
        return self.client.post("/api/v1/vault" + path, json=body or {}, headers=self.as_(who))

    def get(self, who: str, path: str, **headers: str) -> Any:
        return self.client.get("/api/v1/vault" + path, headers={**self.as_(who), **headers})

    def secret(self, folder: str, name: str, **extra: Any) -> dict[str, Any]:
        body = {"folder": self.folders[folder], "name": name, "template": "password",
                "fields": {"username": "svc", "password": f"pw-{name}-Secret1"}, **extra}
        response = self.post("admin", "/secrets", body)
        assert response.status_code == 201, response.text
        return dict(response.json())


def build_scene(app: App, client: TestClient) -> VaultScene:
    admin = create_login(app, "administrator", "vault-admin")
    users = {name: create_login(app, "user", name) for name in ("alice", "bob", "carol", "dave")}
    admin_h = admin.headers
    group = client.post("/api/v1/groups", json={"name": "scanners"}, headers=admin_h).json()
    client.post(f"/api/v1/groups/{group['id']}/members", json={"user": "carol"}, headers=admin_h)
    folders: dict[str, str] = {}
    for path in ("Ops", "Ops/Linux", "Ops/Linux/Private", "Scan"):
        parent, _, name = path.rpartition("/")
        body = {"name": name, "parent": folders[parent] if parent else None}
        response = client.post("/api/v1/vault/folders", json=body, headers=admin_h)
        assert response.status_code == 201, response.text
        folders[path] = response.json()["id"]
    scene = VaultScene(client, admin, users, folders)
    grants = [("Ops", "alice", "view"), ("Ops/Linux", "bob", "edit"), ("Scan", "group:scanners", "view"),
              ("Ops/Linux/Private", "dave", "owner")]
    for folder, principal, level in grants:
        answer = scene.post("admin", f"/folders/{folders[folder]}/permissions",
                            {"principal": principal, "level": level})
        assert answer.status_code == 200, answer.text
    # Private breaks inheritance: only its own grants apply.
    assert client.put(f"/api/v1/vault/folders/{folders['Ops/Linux/Private']}/inheritance", json={"inherit": False},
                      headers=admin_h).status_code == 200
    return scene






def module_scene(tmp_path_factory: Any, sqlite_template: Any, name: str) -> Any:
    """A scene on its own SQLite copy for a whole test module (a generator for a fixture to yield from)."""
    import shutil

    from certvault.container import build_app
    from tests.conftest import api_client, make_settings

    data = tmp_path_factory.mktemp(name) / "data"
    shutil.copytree(sqlite_template, data)
    app = build_app(make_settings(data), run_migrations=False)
    with api_client(app) as client:
        yield build_scene(app, client)
    app.close()

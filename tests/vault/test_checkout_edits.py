"""A secret someone else has checked out cannot be changed: a clear 409 naming who holds it and until when."""

from __future__ import annotations

import pytest

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.vault.protection import CheckOutConflict
from tests.conftest import api_client
from tests.vault.conftest import build_scene


def test_edits_wait_for_the_holder_through_the_api(sqlite_app: App) -> None:
    with api_client(sqlite_app) as client:
        scene = build_scene(sqlite_app, client)
        secret = scene.secret("Ops/Linux", "db-root", checkout_enabled=True)
        path = f"/api/v1/vault/secrets/{secret['id']}"
        held = scene.post("alice", f"/secrets/{secret['id']}/checkout", {"minutes": 45}).json()

        edit = client.patch(path, json={"fields": {"password": "Bob-changed-1"}}, headers=scene.as_("bob"))
        assert edit.status_code == 409, edit.text
        detail = edit.json()["detail"]
        assert "checked out by alice until " + held["expires_at"][:16].replace("T", " ") + " UTC" in detail
        assert "cannot be changed" in detail
        rename = client.patch(path, json={"name": "renamed"}, headers=scene.as_("bob"))
        assert rename.status_code == 409
        settings = client.patch(path + "/settings", json={"hide_password": True}, headers=scene.as_("admin"))
        assert settings.status_code == 409 and "checked out by alice" in settings.json()["detail"]
        assert client.delete(path, headers=scene.as_("admin")).status_code == 409
        # DoubleLock rewrites every secret value: it waits for the holder too.
        assert client.put("/api/v1/vault/doublelock/passphrase", json={"passphrase": "Admin-lock-phrase-1"},
                          headers=scene.as_("admin")).status_code == 200
        locked = scene.post("admin", f"/secrets/{secret['id']}/doublelock")
        assert locked.status_code == 409 and "checked out by alice" in locked.json()["detail"]

        after = scene.get("admin", f"/secrets/{secret['id']}").json()
        assert (after["name"], after["version"], after["protection"]["hide_password"]) == ("db-root", 1, False)
        assert after["protection"]["double_lock"] is False
        trail = [(e["action"], e["user"], e["outcome"]) for e in scene.get("admin", f"/secrets/{secret['id']}/audit")
                 .json()]
        assert ("secret.edit", "bob", "denied") in trail and ("secret.settings", "vault-admin", "denied") in trail
        assert ("secret.doublelock_enable", "vault-admin", "denied") in trail

        # Still held: bob waits; once alice checks it in, anyone with edit permission may change it again.
        assert client.patch(path, json={"fields": {"host": "db01"}}, headers=scene.as_("bob")).status_code == 409
        assert scene.post("alice", f"/secrets/{secret['id']}/checkin").status_code == 200
        changed = client.patch(path, json={"fields": {"password": "Bob-changed-1"}}, headers=scene.as_("bob"))
        assert changed.status_code == 200 and changed.json()["version"] == 2


def test_the_holder_edits_and_an_owner_can_force_the_check_in(sqlite_app: App) -> None:
    with api_client(sqlite_app) as client:
        scene = build_scene(sqlite_app, client)
        secret = scene.secret("Ops/Linux", "switch", checkout_enabled=True)
        assert scene.post("bob", f"/secrets/{secret['id']}/checkout").status_code == 200
        mine = client.patch(f"/api/v1/vault/secrets/{secret['id']}", json={"fields": {"host": "sw1"}},
                            headers=scene.as_("bob"))
        assert mine.status_code == 200
        assert scene.post("admin", f"/secrets/{secret['id']}/checkin", {"force": True}).status_code == 200
        assert client.patch(f"/api/v1/vault/secrets/{secret['id']}/settings", json={"checkout_enabled": False},
                            headers=scene.as_("admin")).status_code == 200


def test_the_service_refuses_and_keeps_only_the_audit_row(sqlite_app: App) -> None:
    admin = Actor.system("test-admin", via="cli")
    with sqlite_app.transaction() as svc:
        folder = svc.vault.folders.create(admin, "Net")
        secret = svc.vault.secrets.create(admin, folder.id, "core-router", "password",
                                          {"username": "admin", "password": "Router-pass-1"}, checkout_enabled=True)
        svc.vault.protection.check_out(Actor.system("cli:alice", via="cli"), secret.id, 30)
    with pytest.raises(CheckOutConflict) as refused, sqlite_app.transaction() as svc:
        svc.vault.secrets.update(Actor.system("cli:bob", via="cli"), secret.id, fields={"password": "Other-pass-2"},
                                 name="renamed")
    assert refused.value.status_code == 409 and "checked out by cli:alice until" in refused.value.message
    with sqlite_app.transaction() as svc:
        listing = svc.vault.secrets.get(admin, secret.id)
        assert (listing.secret.name, listing.secret.version) == ("core-router", 1)
        denied = [e for e in svc.vault.trail(admin, secret.id) if e.outcome == "denied"]
        assert [(e.action, e.actor_name) for e in denied] == [("secret.edit", "cli:bob")]
        # the same id-less caller (the CLI user who holds it) may edit
        svc.vault.secrets.update(Actor.system("cli:alice", via="cli"), secret.id, fields={"host": "r1"})

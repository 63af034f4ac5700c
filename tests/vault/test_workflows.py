"""Approval, DoubleLock, history, the audit trail and system secrets — on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess

import pytest

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.errors import Forbidden, InvalidInput
from certvault.vault.models import Secret
from tests.conftest import api_client
from tests.vault.conftest import build_scene

ADMIN = Actor.system("test-admin", via="cli")


def test_approval_workflow_request_approve_read_then_window_ends(app: App) -> None:
    with api_client(app) as client:
        scene = build_scene(app, client)
        secret = scene.secret("Ops/Linux", "needs-approval", require_approval=True)
        with app.transaction() as svc:
            channel = svc.notifications.create_channel(ADMIN, "hook", "webhook", {"url": "https://hooks.example/x"})
            svc.notifications.subscribe(ADMIN, channel.id, "approval.*")
        denied = scene.get("bob", f"/secrets/{secret['id']}/values")
        assert denied.status_code == 403 and "requires approval" in denied.json()["detail"]
        request = scene.post("bob", f"/secrets/{secret['id']}/access-requests",
                             {"reason": "patching db01 tonight", "minutes": 30}).json()
        assert request["status"] == "pending"
        assert scene.post("bob", f"/access-requests/{request['id']}/decision", {"approve": True}).status_code == 403
        assert [r["id"] for r in scene.get("admin", "/access-requests?status=pending").json()] == [request["id"]]
        approved = scene.post("admin", f"/access-requests/{request['id']}/decision",
                              {"approve": True, "comment": "ok for tonight"}).json()
        assert approved["status"] == "approved" and approved["expires_at"]
        values = scene.get("bob", f"/secrets/{secret['id']}/values")
        assert values.status_code == 200
        assert scene.get("alice", f"/secrets/{secret['id']}/values").status_code == 403  # approval is per person
        trail = [(e["action"], e["user"], e["outcome"]) for e in scene.get("admin", f"/secrets/{secret['id']}/audit")
                 .json()]
        assert ("secret.view", "bob", "denied") in trail
        assert ("secret.access_request", "bob", "success") in trail
        assert ("secret.access_approved", "vault-admin", "success") in trail
        assert ("secret.view", "bob", "success") in trail
        app.worker().run_until_idle()  # the notifications consumer reads the events into the channel outbox
        outbox = [m["event"] for m in client.get("/api/v1/notifications/outbox", headers=scene.admin.headers).json()]
        assert sorted(outbox) == ["approval.decided", "approval.requested"]


def test_double_lock_keeps_even_administrators_out_without_a_passphrase(app: App) -> None:
    with api_client(app) as client:
        scene = build_scene(app, client)
        secret = scene.secret("Ops/Linux/Private", "root-ca-key")
        dave, admin = "dave", "admin"
        assert scene.client.put("/api/v1/vault/doublelock/passphrase", json={"passphrase": "dave's long phrase"},
                                headers=scene.as_(dave)).status_code == 200
        assert scene.post(dave, f"/secrets/{secret['id']}/doublelock").status_code == 200
        missing = scene.get(dave, f"/secrets/{secret['id']}/values")
        assert missing.status_code == 403 and "give your DoubleLock passphrase" in missing.json()["detail"]
        wrong = scene.get(dave, f"/secrets/{secret['id']}/values", **{"X-DoubleLock-Passphrase": "not it at all"})
        assert wrong.status_code == 403 and "passphrase is wrong" in wrong.json()["detail"]
        ok = scene.get(dave, f"/secrets/{secret['id']}/values", **{"X-DoubleLock-Passphrase": "dave's long phrase"})
        assert {f["slug"]: f["value"] for f in ok.json()["fields"]}["password"] == "pw-root-ca-key-Secret1"
        # The administrator owns everything, makes a passphrase of their own, and still cannot read it.
        scene.client.put("/api/v1/vault/doublelock/passphrase", json={"passphrase": "admin's own phrase"},
                         headers=scene.as_(admin))
        blocked = scene.get(admin, f"/secrets/{secret['id']}/values",
                            **{"X-DoubleLock-Passphrase": "admin's own phrase"})
        assert blocked.status_code == 403 and "was not shared with you" in blocked.json()["detail"]
        with pytest.raises(Forbidden), app.transaction() as svc:  # nor can certvault's own integrations
            svc.vault.resolve_field(secret["id"], "password", purpose="test")
        # Sharing re-wraps the key for the admin's public key; now their passphrase opens it.
        assert scene.post(dave, f"/secrets/{secret['id']}/doublelock/share",
                          {"user": "vault-admin", "doublelock_passphrase": "dave's long phrase"}).status_code == 200
        assert scene.get(admin, f"/secrets/{secret['id']}/values",
                         **{"X-DoubleLock-Passphrase": "admin's own phrase"}).status_code == 200


def test_history_keeps_earlier_values_for_owners(sqlite_app: App) -> None:
    with api_client(sqlite_app) as client:
        scene = build_scene(sqlite_app, client)
        secret = scene.secret("Ops/Linux/Private", "rotating")
        for new in ("second-Passw0rd", "third-Passw0rd"):
            response = client.patch(f"/api/v1/vault/secrets/{secret['id']}", json={"fields": {"password": new}},
                                    headers=scene.as_("dave"))
            assert response.status_code == 200 and response.json()["version"] in (2, 3)
        history = scene.get("dave", f"/secrets/{secret['id']}/history").json()
        assert [(h["version"], h["value"]) for h in history] == [(2, "second-Passw0rd"), (1, "pw-rotating-Secret1")]
        assert scene.get("bob", f"/secrets/{secret['id']}/history").status_code == 404  # not bob's to see


def test_bad_input_is_refused_by_name_and_nothing_changes(sqlite_app: App) -> None:
    with api_client(sqlite_app) as client:
        scene = build_scene(sqlite_app, client)
        folder = scene.folders["Ops"]
        cases = [
            ({"folder": folder, "name": "x", "template": "password", "fields": {"username": "u"}}, "password"),
            ({"folder": folder, "name": "x", "template": "vpn", "fields": {}}, "unknown template"),
            ({"folder": folder, "name": "a/b", "template": "generic", "fields": {"k": "v"}}, "may not contain"),
            ({"folder": folder, "name": "x", "template": "password",
              "fields": {"username": "u", "password": "p", "colour": "red"}}, "no field 'colour'"),
            ({"folder": folder, "name": "x", "template": "keystore",
              "files": {"file": {"filename": "k.p12", "content_base64": "***"}}}, "not valid base64"),
        ]
        for body, problem in cases:
            response = scene.post("admin", "/secrets", body)
            assert response.status_code == 400 and problem in response.json()["detail"], response.text
    with sqlite_app.transaction() as svc:
        assert svc.session.query(Secret).count() == 0


def test_system_secrets_are_referenced_by_id_and_used_even_when_hidden(app: App) -> None:
    with app.transaction() as svc:
        secret_id = svc.vault.create_system_secret(ADMIN, folder_path="Integrations/DNS/Cloudflare", name="zone-edit",
                                                   template="api-credential", fields={"key-id": "k1", "secret": "t0k"})
        svc.vault.protection.update_settings(ADMIN, secret_id, hide_password=True)
    with app.transaction() as svc:
        assert svc.vault.resolve_field(secret_id, "secret", purpose="dns-01 example.com") == "t0k"
        trail = svc.vault.trail(ADMIN, secret_id)
        assert trail[0].action == "secret.use_field" and trail[0].actor_name == "certvault:dns-01 example.com"
    with pytest.raises(InvalidInput), app.transaction() as svc:
        svc.vault.create_system_secret(ADMIN, folder_path="Integrations", name="bad", template="api-credential",
                                       fields={"key-id": "k1"})


@pytest.mark.postgres
def test_pg_dump_contains_no_plaintext_secret(postgres_server: object, postgres_template: object,
                                              tmp_path: object) -> None:
    from tests.conftest import _postgres_app

    application, db = _postgres_app(postgres_server, postgres_template, tmp_path)  # type: ignore[arg-type]
    try:
        with application.transaction() as svc:
            folder = svc.vault.folders.create(ADMIN, "Dump check")
            secret = svc.vault.secrets.create(ADMIN, folder.id, "pg-secret", "ssh-key",
                                              {"username": "root", "private-key": "PRIVATE-KEY-MATERIAL-77",
                                               "private-key-passphrase": "Passphrase-Plain-88"})
            svc.vault.secrets.update(ADMIN, secret.id, fields={"private-key-passphrase": "Second-Plain-99"})
        dump = subprocess.run(["pg_dump", postgres_server.dsn(db)], capture_output=True, text=True,  # type: ignore[attr-defined]
                              check=True, timeout=120).stdout
    finally:
        application.close()
        postgres_server.drop_database(db)  # type: ignore[attr-defined]
    assert "pg-secret" in dump
    for plain in ("PRIVATE-KEY-MATERIAL-77", "Passphrase-Plain-88", "Second-Plain-99"):
        assert plain not in dump

"""The REST API under /api/v1/deploy and the Deploy pages, with a local-directory target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import api_client, create_login, csrf_of, web_login
from tests.deploy.conftest import Authority, store


def test_api_map_run_history_and_roles(app: Any, test_ca: Authority, tmp_path: Path) -> None:
    """On SQLite and PostgreSQL."""
    sqlite_app = app
    admin, auditor = create_login(sqlite_app, "administrator"), create_login(sqlite_app, "auditor")
    chain, key, serial = test_ca.leaf()
    with sqlite_app.transaction() as svc:
        entry_id = str(store(svc, chain, key))
    out = tmp_path / "out"
    with api_client(sqlite_app) as client:
        added = client.post("/api/v1/deploy/targets", headers=admin.headers, json={
            "plugin": "local", "name": "files", "options": {"fullchain_path": str(out / "fullchain.pem"),
                                                             "key_path": str(out / "key.pem"), "mode": "0600"}})
        assert added.status_code == 201, added.text
        assert client.get("/api/v1/deploy/targets", headers=auditor.headers).status_code == 403
        mapped = client.post("/api/v1/deploy/mappings", headers=admin.headers,
                             json={"certificate": entry_id, "target": "files", "auto": False})
        assert mapped.status_code == 201 and mapped.json()["target"] == "files"
        refused = client.post("/api/v1/deploy/runs", headers=auditor.headers, json={"certificate": entry_id})
        assert refused.status_code == 403
        queued = client.post("/api/v1/deploy/runs", headers=admin.headers, json={"certificate": entry_id})
        assert queued.status_code == 202
        [run] = queued.json()["deployments"]
        assert run["status"] == "queued" and run["serial"] == serial
        sqlite_app.worker().run_until_idle(timeout=60)
        done = client.get(f"/api/v1/deploy/runs/{run['id']}", headers=auditor.headers).json()
        assert done["status"] == "verified" and done["served_serial"] == serial and done["verified_at"]
        history = client.get("/api/v1/deploy/runs", params={"cert": entry_id}, headers=auditor.headers).json()
        assert [h["id"] for h in history] == [run["id"]]
        where = client.get(f"/api/v1/deploy/certificates/{entry_id}", headers=auditor.headers).json()
        [(version, [row])] = where.items()
        assert version == run["version"] and row["target"] == "files" and row["verified_at"]
        assert (out / "fullchain.pem").read_bytes() == chain and (out / "key.pem").read_bytes() == key
        assert (out / "key.pem").stat().st_mode & 0o777 == 0o600
        gone = client.delete(f"/api/v1/deploy/mappings/{entry_id}/files", headers=admin.headers)
        assert gone.status_code == 200
        assert client.get("/api/v1/deploy/mappings", headers=admin.headers).json() == []


def test_deploy_pages(sqlite_app: Any, test_ca: Authority, tmp_path: Path) -> None:
    admin = create_login(sqlite_app, "administrator")
    chain, key, serial = test_ca.leaf()
    with sqlite_app.transaction() as svc:
        entry_id = str(store(svc, chain, key))
    with api_client(sqlite_app) as client:
        web_login(client, admin)
        page = client.get("/deploy")
        assert page.status_code == 200 and "No deployment yet" in page.text
        with sqlite_app.transaction() as svc:
            from certvault.auth.rbac import Actor

            svc.integrations.add(Actor.system("t"), "deploy", "local", "files",
                                 {"cert_path": str(tmp_path / "cert.pem")}, {})
        token = csrf_of(client.get("/deploy").text)
        bad = client.post("/deploy/map", data={"csrf_token": token, "certificate": "nope", "target": "files",
                                               "auto": "yes"})
        assert bad.status_code == 400 and "give the certificate&#39;s id" in bad.text
        mapped = client.post("/deploy/map", data={"csrf_token": token, "certificate": entry_id, "target": "files",
                                                  "auto": "no"}, follow_redirects=False)
        assert mapped.status_code == 303
        ran = client.post("/deploy/run", data={"csrf_token": token, "certificate": entry_id, "target": "files"})
        assert "1 deployment(s) queued" in ran.text
        running = client.get("/deploy").text  # queued, not yet run: the history reloads itself
        assert 'hx-trigger="every 3s"' in running and "1 deployment(s) running" in running
        sqlite_app.worker().run_until_idle(timeout=60)
        listing = client.get("/deploy").text
        assert "Verified" in listing and serial in listing and "by hand" in listing
        assert "hx-trigger" not in listing  # every deployment is final: the polling stops
        detail = client.get(f"/deploy/certificates/{entry_id}").text
        assert serial in detail and "files" in detail and "Verified" in detail
        certificate_page = client.get(f"/certificates/{entry_id}").text
        assert f'/deploy/certificates/{entry_id}' in certificate_page
        assert "files: verified" in certificate_page  # the version's row says where it is deployed

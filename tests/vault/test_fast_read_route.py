"""The direct route for `GET /api/v1/vault/secrets/{id}/values` (bearer token, no query string) answers
exactly as the regular FastAPI route does (which a query string selects): same status, body and headers for
a read, a bad token, a refused address, a missing permission and an unknown secret; each read audited."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from certvault.api.fast import BearerFastRoute
from certvault.api.routes.vault import FAST_ROUTES
from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.errors import NotFound
from certvault.server import create_server
from tests.conftest import create_login
from tests.vault.conftest import build_scene

COMPARED_HEADERS = ("content-type", "cache-control", "content-security-policy", "strict-transport-security")


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The secret ids the direct route served (so a test knows the regular route did not answer instead)."""
    ids: list[str] = []
    original = BearerFastRoute._read

    def counting(self, app, token, ip, params, *args, **kwargs):  # type: ignore[no-untyped-def]
        ids.append(params["secret_id"])
        return original(self, app, token, ip, params, *args, **kwargs)

    monkeypatch.setattr(BearerFastRoute, "_read", counting)
    return ids


def _both(client: TestClient, path: str, headers: dict[str, str]) -> tuple:
    direct = client.get(path, headers=headers)
    regular = client.get(path + "?via=fastapi", headers=headers)
    return direct, regular


def test_direct_and_regular_routes_answer_alike(sqlite_app: App, served: list[str]) -> None:
    with TestClient(create_server(sqlite_app), base_url="https://testserver") as client:
        scene = build_scene(sqlite_app, client)
        secret = scene.secret("Ops", "db-read")
        path = f"/api/v1/vault/secrets/{secret['id']}/values"
        fenced = create_login(sqlite_app, "user", "fenced", allowed_networks=["10.0.0.0/8"])
        cases = {
            "read": (path, scene.as_("alice"), 200),
            "bad token": (path, {"Authorization": "Bearer cvt_not-a-token"}, 401),
            "refused address": (path, fenced.headers, 403),
            "no permission": (path, scene.as_("bob"), 404),  # bob's grant is on Ops/Linux only: not his to see
            "unknown secret": (f"/api/v1/vault/secrets/{uuid.uuid4()}/values", scene.as_("alice"), 404),
        }
        for name, (url, headers, status) in cases.items():
            direct, regular = _both(client, url, headers)
            assert (direct.status_code, regular.status_code) == (status, status), (name, direct.text, regular.text)
            assert direct.json() == regular.json(), name
            for header in COMPARED_HEADERS:
                assert direct.headers.get(header) == regular.headers.get(header), (name, header)
        values = {f["slug"]: f["value"] for f in client.get(path, headers=scene.as_("alice")).json()["fields"]}
        assert values["password"] == "pw-db-read-Secret1"
        assert len(served) == len(cases) + 1  # the direct route served every request without a query string
    with sqlite_app.transaction() as svc:
        trail = svc.vault.trail(Actor.system(), uuid.UUID(secret["id"]))
    views = [e for e in trail if e.action == "secret.view" and e.actor_name == "alice"]
    assert len(views) == 3  # two compared reads and the last one: every read is audited on both routes


def test_direct_route_sees_a_revocation_and_a_disabled_account_on_the_next_read(sqlite_app: App,
                                                                               served: list[str]) -> None:
    """The direct route reads the auth version in the same statement as the secret's rows (one statement less);
    the token cache must still drop a disabled account or a revoked token on the very next read."""
    admin = Actor.system("fast-route-test")
    with TestClient(create_server(sqlite_app), base_url="https://testserver") as client:
        scene = build_scene(sqlite_app, client)
        path = f"/api/v1/vault/secrets/{scene.secret('Ops', 'db-revoke')['id']}/values"
        for _ in range(2):  # the second read is served with the cached token
            assert client.get(path, headers=scene.as_("alice")).status_code == 200
        with sqlite_app.transaction() as svc:
            svc.auth.update_user(admin, "alice", is_active=False)
        assert client.get(path, headers=scene.as_("alice")).status_code == 401
        with sqlite_app.transaction() as svc:
            svc.auth.update_user(admin, "alice", is_active=True)
        assert client.get(path, headers=scene.as_("alice")).status_code == 200
        with sqlite_app.transaction() as svc:
            svc.auth.revoke_token(admin, svc.auth.list_tokens(admin, "alice")[0].id)
        answer = client.get(path, headers=scene.as_("alice"))
        assert answer.status_code == 401 and "revoked" in answer.json()["detail"], answer.text
        assert len(served) == 5  # every read went through the direct route


def test_a_changed_access_rule_takes_effect_on_the_next_direct_read(sqlite_app: App, served: list[str]) -> None:
    """The direct route reuses a secret's resolved level across requests (per process, at one auth version);
    every change to what the level is resolved from must still decide the very next read."""
    with TestClient(create_server(sqlite_app), base_url="https://testserver") as client:
        scene = build_scene(sqlite_app, client)
        admin, linux = scene.as_("admin"), scene.folders["Ops/Linux"]
        secret = scene.secret("Ops/Linux", "db-acl")  # alice inherits view from Ops
        path = f"/api/v1/vault/secrets/{secret['id']}/values"

        def alice_reads() -> int:
            return client.get(path, headers=scene.as_("alice")).status_code

        def changed(response: Any) -> None:
            assert response.status_code == 200, response.text

        assert [alice_reads(), alice_reads()] == [200, 200]  # the second with the level resolved by the first
        changed(client.put(f"/api/v1/vault/folders/{linux}/inheritance", json={"inherit": False}, headers=admin))
        assert alice_reads() == 404  # no longer hers: answered like a secret that does not exist
        changed(client.put(f"/api/v1/vault/folders/{linux}/inheritance", json={"inherit": True}, headers=admin))
        assert alice_reads() == 200
        changed(client.delete(f"/api/v1/vault/folders/{scene.folders['Ops']}/permissions/alice", headers=admin))
        assert alice_reads() == 404
        changed(scene.post("admin", f"/secrets/{secret['id']}/permissions", {"principal": "alice", "level": "view"}))
        assert alice_reads() == 200  # a new grant counts at once too

        scanned = scene.secret("Scan", "db-acl-scan")  # carol reads it through the group "scanners"
        scan_path = f"/api/v1/vault/secrets/{scanned['id']}/values"
        assert [client.get(scan_path, headers=scene.as_("carol")).status_code for _ in range(2)] == [200, 200]
        group = next(g for g in client.get("/api/v1/groups", headers=admin).json() if g["name"] == "scanners")
        carol = next(u for u in client.get("/api/v1/users", headers=admin).json() if u["username"] == "carol")
        changed(client.delete(f"/api/v1/groups/{group['id']}/members/{carol['id']}", headers=admin))
        assert client.get(scan_path, headers=scene.as_("carol")).status_code == 404  # no longer hers to see
        assert len(served) == 9  # all of these reads went through the direct route


def test_the_reads_of_one_loop_pass_read_their_secrets_in_one_statement(sqlite_app: App, served: list[str]) -> None:
    """Concurrent direct reads share one statement for their secrets' rows (with different secrets, one the
    caller may not read and one that does not exist), and each still gets its own answer."""
    with TestClient(create_server(sqlite_app), base_url="https://testserver") as client:
        scene = build_scene(sqlite_app, client)
        first, second = scene.secret("Ops", "db-ahead-1"), scene.secret("Ops", "db-ahead-2")
        for who in ("alice", "bob"):  # their tokens' use is recorded now, so the reads below need not write
            client.get(f"/api/v1/vault/secrets/{first['id']}/values", headers=scene.as_(who))
    route = next(r for r in FAST_ROUTES if r.path_format == "/api/v1/vault/secrets/{secret_id}/values")
    alice, bob = (scene.as_(who)["Authorization"].split()[1] for who in ("alice", "bob"))
    unknown = str(uuid.uuid4())
    calls = [(alice, first["id"]), (alice, second["id"]), (bob, first["id"]), (alice, unknown), (alice, first["id"])]
    statements: list[tuple[str, Any]] = []

    def note(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    async def read_all() -> list[Any]:
        return await asyncio.gather(*(route.answer(sqlite_app, token, "127.0.0.1", {"secret_id": secret_id})
                                      for token, secret_id in calls), return_exceptions=True)

    event.listen(sqlite_app.read_engine, "before_cursor_execute", note)
    try:
        answers = asyncio.run(read_all())
    finally:
        event.remove(sqlite_app.read_engine, "before_cursor_execute", note)
    passwords = [{f["slug"]: f["value"] for f in json.loads(a)["fields"]}["password"] for a in answers[:2]]
    assert passwords == ["pw-db-ahead-1-Secret1", "pw-db-ahead-2-Secret1"]
    assert isinstance(answers[2], NotFound) and isinstance(answers[3], NotFound), answers  # not bob's; unknown
    assert json.loads(answers[4]) == json.loads(answers[0])
    ahead, *alone = [(s, p) for s, p in statements if "FROM vault_secrets JOIN vault_folders" in s]
    assert " IN (" in ahead[0] and len(ahead[1]) == 3 + 1, ahead  # three secrets (and the auth version's key)
    # Only the secret that does not exist is looked up again on its own (nothing was read ahead for it).
    assert [uuid.UUID(p[0]) for _, p in alone] == [uuid.UUID(unknown)], alone
    assert served[-len(calls):] == [secret_id for _, secret_id in calls]
    with sqlite_app.transaction() as svc:
        trail = svc.vault.trail(Actor.system(), uuid.UUID(first["id"]))
    views = sorted((e.actor_name, e.outcome) for e in trail if e.action == "secret.view")
    assert views == [("alice", "success")] * 3 + [("bob", "denied")] * 2  # one of each before the pass, and its own

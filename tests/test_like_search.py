"""Searches treat `%`, `_` and `\\` as the characters they are, not as LIKE wildcards (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from certvault.container import App
from tests.conftest import create_login

NAMES = ["db-prod", "100%-uptime", "a_b", "axb"]


@pytest.fixture
def admin_headers(app: App, client: TestClient) -> dict[str, str]:
    admin = create_login(app, "administrator", "like-admin")
    folder = client.post("/api/v1/vault/folders", json={"name": "Like"}, headers=admin.headers).json()["id"]
    for name in NAMES:
        body = {"folder": folder, "name": name, "template": "password",
                "fields": {"username": "u", "password": f"Pw-{name}-Secret1"}}
        assert client.post("/api/v1/vault/secrets", json=body, headers=admin.headers).status_code == 201
    return admin.headers


def names(client: TestClient, headers: dict[str, str], query: str) -> list[str]:
    answer = client.get("/api/v1/vault/secrets", params={"q": query}, headers=headers)
    assert answer.status_code == 200, answer.text
    return sorted(item["name"] for item in answer.json()["items"])


@pytest.mark.parametrize(("query", "found"), [
    ("%", ["100%-uptime"]), ("_", ["a_b"]), ("a_b", ["a_b"]), ("\\", []), ("\\%", []), ("A_B", ["a_b"]),
    ("%-UP", ["100%-uptime"]), ("-", ["100%-uptime", "db-prod"]),
])
def test_vault_search_matches_wildcards_literally(client: TestClient, admin_headers: dict[str, str], query: str,
                                                  found: list[str]) -> None:
    assert names(client, admin_headers, query) == found


def test_secret_server_search_too(client: TestClient, admin_headers: dict[str, str]) -> None:
    """The compatible API searches through the same service (web services are on for people by default)."""
    answer = client.get("/secretserver/api/v1/secrets", params={"filter.searchText": "%"}, headers=admin_headers)
    assert answer.status_code == 200, answer.text
    assert [r["name"] for r in answer.json()["records"]] == ["100%-uptime"]


def test_audit_text_and_action_prefix_match_literally(client: TestClient, admin_headers: dict[str, str]) -> None:
    def total(**params: str) -> int:
        answer = client.get("/api/v1/audit", params={**params, "limit": 1}, headers=admin_headers)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["total"])

    assert total(q="%") == 0 and total(q="secret_create") == 0  # "_" would match the "." of "secret.create"
    assert total(action="secret_") == 0 and total(action="%") == 0
    assert total(action="secret.") == len(NAMES) and total(q="secret.create") == len(NAMES)

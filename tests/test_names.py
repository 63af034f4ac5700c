"""Names cannot carry terminal escapes, bidi overrides or invisible characters, and are bounded in length; the
command line prints whatever is stored (rows from before included) with such characters escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from certvault.container import App, build_app
from certvault.names import problem
from tests.conftest import create_login, make_settings, web_login
from tests.servers.certvault_server import certvault_cli

ESC_CLEAR = "db\x1b[2J\x1b[1;1Hprod"  # clears the screen of whoever lists it
RLO = "invoice\u202egnp.exe"  # reads as "invoiceexe.png"
ZWSP = "ad\u200bmin"  # looks like "admin"


@pytest.mark.parametrize(("value", "expected"), [
    ("plain name", None), ("Zürich – prod", None), ("名前", None), ("a\u00a0b", None),
    ("nul\x00", "contains a control character (U+0000)"), ("del\x7f", "contains a control character (U+007F)"),
    ("c1\x9b", "contains a control character (U+009B)"), (ESC_CLEAR, "contains a control character (U+001B)"),
    ("tab\t", "contains a control character (U+0009)"), (RLO, "contains a bidirectional text control (U+202E)"),
    ("iso\u2066x", "contains a bidirectional text control (U+2066)"), (ZWSP, "contains an invisible formatting "
                                                                           "character (U+200B)"),
    ("bom\ufeff", "contains an invisible formatting character (U+FEFF)"),
    ("line\u2028sep", "contains an invisible formatting character (U+2028)"),
])
def test_the_rule(value: str, expected: str | None) -> None:
    assert problem(value) == expected


@pytest.fixture
def admin(app: App) -> dict[str, str]:
    return create_login(app, "administrator", "names-admin").headers


def test_the_api_refuses_with_a_422_naming_the_field(client: TestClient, admin: dict[str, str]) -> None:
    folder = client.post("/api/v1/vault/folders", json={"name": "Names"}, headers=admin).json()["id"]
    refused = {
        ("/api/v1/vault/folders", "name"): {"name": ESC_CLEAR},
        ("/api/v1/vault/secrets", "name"): {"folder": folder, "name": RLO, "template": "password",
                                           "fields": {"password": "Pw-names-Secret1"}},
        ("/api/v1/users", "username"): {"username": "nul\x00user", "role": "user"},
        ("/api/v1/users", "display_name"): {"username": "fine", "display_name": "Bob\x1b]0;owned\x07"},
        ("/api/v1/groups", "name"): {"name": ZWSP},
        ("/api/v1/tokens", "name"): {"name": "ci\x08\x08\x08admin"},
        ("/api/v1/vault/service-accounts", "name"): {"name": "scan\u2067ner", "folders": ["Names"]},
        ("/api/v1/certificates/csr", "tags.1"): {"common_name": "a.example", "tags": ["ok", "t\x1bag"]},
    }
    for (path, field), body in refused.items():
        answer = client.post(path, json=body, headers=admin)
        assert answer.status_code == 422, (path, answer.text)
        assert re.fullmatch(rf"{re.escape(field)}: contains an? [a-z ]+ \(U\+[0-9A-F]{{4}}\)", answer.json()["detail"])
    too_long = client.post("/api/v1/vault/secrets", headers=admin, json={
        "folder": folder, "name": "x" * 201, "template": "password", "fields": {"password": "Pw-names-Secret1"}})
    assert too_long.status_code == 422 and too_long.json()["detail"].startswith("name: ")
    assert client.post("/api/v1/groups", json={"name": "g" * 151}, headers=admin).status_code == 422
    renamed = client.post("/api/v1/vault/secrets", headers=admin, json={
        "folder": folder, "name": "fine", "template": "password",
        "fields": {"username": "u", "password": "Pw-names-Secret1"}})
    assert renamed.status_code == 201, renamed.text
    renamed = renamed.json()
    rename = client.patch(f"/api/v1/vault/secrets/{renamed['id']}", json={"name": RLO}, headers=admin)
    assert rename.status_code == 422
    assert rename.json()["detail"] == "name: contains a bidirectional text control (U+202E)"


def test_web_forms_are_refused_by_the_service(app: App, client: TestClient) -> None:
    login = create_login(app, "administrator", "names-web")
    csrf = web_login(client, login, "/vault")
    page = client.post("/vault/folders", data={"csrf_token": csrf, "name": ESC_CLEAR}, follow_redirects=False)
    assert page.status_code == 400 and "folder name: contains a control character (U+001B)" in page.text
    assert "\x1b" not in client.get("/vault").text


def test_the_cli_refuses_and_prints_stored_names_escaped(tmp_path: Path) -> None:
    data, wide = tmp_path / "data", {"COLUMNS": "400"}
    certvault_cli(data, "init")
    refused = certvault_cli(data, "folder", "add", ESC_CLEAR, check=False)
    assert refused.returncode == 1 and "folder name: contains a control character (U+001B)" in refused.stderr
    assert "\x1b" not in refused.stderr
    certvault_cli(data, "folder", "add", "Legacy")
    certvault_cli(data, "secret", "add", "--folder", "Legacy", "--template", "password", "--name", "legacy-db",
                  "--field", "username=u", "--field", "password=Legacy-pass-1")
    # Rows stored before the rule (written here straight into the database) still print escaped.
    app = build_app(make_settings(data), run_migrations=False)
    with app.engine.begin() as conn:
        conn.execute(text("UPDATE vault_secrets SET name = :name WHERE name = 'legacy-db'"), {"name": ESC_CLEAR + RLO})
        conn.execute(text("UPDATE audit_events SET actor_name = :name WHERE seq = (SELECT max(seq) FROM "
                          "audit_events)"), {"name": "cli:\x1b]0;owned\x07" + ZWSP})
    app.close()
    listed = certvault_cli(data, "secret", "list", env=wide).stdout
    assert "\x1b" not in listed and "\u202e" not in listed
    assert "db\\x1b[2J\\x1b[1;1Hprod" + "invoice\\u202egnp.exe" in listed
    audit = certvault_cli(data, "audit", "list", "--limit", "5", env=wide).stdout
    assert "\x1b" not in audit and "\x07" not in audit and "\u200b" not in audit
    assert "cli:\\x1b]0;owned\\x07ad\\u200bmin" in audit
    stored = json.loads(certvault_cli(data, "secret", "list", "--json").stdout)["items"][0]["name"]
    assert stored == ESC_CLEAR + RLO  # JSON carries the stored value (JSON escapes it itself)

"""A plugin installed only through the `certvault.notify` entry point shows up in the CLI, the REST API and
the web UI, built from its options model, and works end to end against a real `certvault serve`."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import csrf_of
from tests.servers.certvault_server import ADMIN_PASSWORD, LiveServer, remove_live_server, start_live_server

PLUGIN_DIR = Path(__file__).parent / "entry_point"


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    path = os.pathsep.join(p for p in (str(PLUGIN_DIR), os.environ.get("PYTHONPATH", "")) if p)
    server = start_live_server({"PYTHONPATH": path})
    try:
        yield server
    finally:
        remove_live_server(server)


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_cli_adds_tests_and_updates_the_plugin_from_its_options(live: LiveServer, tmp_path: Path) -> None:
    listing = live.cli("notify", "channel", "add", "--help").stdout
    assert "echo" in listing and "Echo file (test plugin)" in listing
    flags = live.cli("notify", "channel", "add", "echo", "--help").stdout
    assert all(flag in flags for flag in ("--path", "--style", "--tags", "--token"))

    out = tmp_path / "cli.jsonl"
    added = json.loads(live.cli("notify", "channel", "add", "echo", "cli-echo", "--path", str(out), "--style",
                                "loud", "--tags", "a", "--tags", "b", "--token", "tok-one", "--json").stdout)
    assert (added["plugin"], added["options"], added["secret_fields"]) == (
        "echo", {"path": str(out), "style": "loud", "tags": ["a", "b"]}, ["token"])
    live.cli("notify", "channel", "test", "cli-echo")
    (line,) = _lines(out)
    assert line["title"] == "TEST MESSAGE FROM CERTVAULT" and line["tags"] == ["a", "b"]
    assert line["token_sha256"] == hashlib.sha256(b"tok-one").hexdigest()

    bad = live.cli("notify", "channel", "add", "echo", "bad-echo", "--path", str(out), "--style", "whisper",
                   "--token", "t", check=False)
    assert bad.returncode == 1 and "style" in bad.stderr and "Traceback" not in bad.stderr
    live.cli("notify", "channel", "update", "cli-echo", "--style", "plain", "--token", "tok-two")
    live.cli("notify", "channel", "test", "cli-echo")
    assert _lines(out)[-1]["title"] == "Test message from certvault"
    assert _lines(out)[-1]["token_sha256"] == hashlib.sha256(b"tok-two").hexdigest()  # rotated in the vault
    listed = json.loads(live.cli("secret", "list", "--json").stdout)
    (held,) = [s for s in listed["items"] if s["name"] == "cli-echo (echo)"]  # named after its account
    assert "tok-two" not in json.dumps(listed)
    live.cli("secret", "update", str(held["id"]), "--field", "token=tok-three")  # rotated in the vault itself
    live.cli("notify", "channel", "test", "cli-echo")
    assert _lines(out)[-1]["token_sha256"] == hashlib.sha256(b"tok-three").hexdigest()


def test_rest_api_describes_validates_and_tests_the_plugin(live: LiveServer, tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {live.token()}"}
    with httpx.Client(base_url=live.url, verify=live.ssl_context(), headers=headers, timeout=30) as api:
        plugins = {p["name"]: p for p in api.get("/api/v1/integrations/notify/plugins").json()}
        assert set(plugins["echo"]["options_schema"]["properties"]) == {"path", "style", "tags"}
        assert plugins["echo"]["secret_fields"] == ["token"]
        options = {"path": str(tmp_path / "api.jsonl"), "style": "whisper"}
        body = {"plugin": "echo", "name": "api-echo", "options": options, "secrets": {"token": "api-token-9f3"}}
        refused = api.post("/api/v1/integrations/notify", json=body)
        assert refused.status_code == 400 and "style" in refused.json()["detail"]
        body["options"]["style"] = "plain"
        created = api.post("/api/v1/integrations/notify", json=body)
        assert created.status_code == 201 and created.json()["secret_fields"] == ["token"]
        tested = api.post("/api/v1/integrations/notify/api-echo/test").json()
        assert tested == {"ok": True, "result": f"echo file {tmp_path / 'api.jsonl'} is writable"}
        disabled = api.patch("/api/v1/integrations/notify/api-echo", json={"enabled": False}).json()
        assert disabled["enabled"] is False
        assert "api-token-9f3" not in api.get("/api/v1/integrations/notify/api-echo").text


def test_web_ui_shows_a_generated_form_and_adds_through_it(live: LiveServer, tmp_path: Path) -> None:
    live.replace_admin_password()
    with httpx.Client(base_url=live.url, verify=live.ssl_context(), timeout=30) as web:
        token = csrf_of(web.get("/login").text)
        web.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD, "next": "/", "csrf_token": token})
        page = web.get("/integrations/notify").text
        assert "Add: Echo file (test plugin)" in page
        assert 'name="opt.path"' in page and 'name="secret.token"' in page and "<option>loud</option>" in page
        form = {"csrf_token": csrf_of(page), "name": "web-echo", "opt.path": str(tmp_path / "web.jsonl"),
                "opt.style": "whisper", "opt.tags": "x\ny", "secret.token": "web-token"}
        refused = web.post("/integrations/notify/add/echo", data=form)
        assert refused.status_code == 400 and "style" in refused.text and "{&#34;" not in refused.text
        form["opt.style"] = "loud"
        added = web.post("/integrations/notify/add/echo", data=form, follow_redirects=True)
        assert added.status_code == 200 and "Added web-echo." in added.text
        assert "tags=[&#39;x&#39;, &#39;y&#39;]" in added.text and "web-token" not in added.text

"""`certvault serve` as a user runs it: HTTPS from the internal CA, login required."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

import pytest

from tests.servers.certvault_server import LiveServer


def _get(server: LiveServer, path: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(server.url + path)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, context=server.ssl_context(), timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_https_is_served_with_a_certificate_from_the_internal_ca(live: LiveServer) -> None:
    status, body = _get(live, "/api/v1/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    root = live.cli("ca", "show-root").stdout
    assert root.startswith("-----BEGIN CERTIFICATE-----") and root == live.ca_file.read_text()
    with pytest.raises(urllib.error.URLError):  # without trusting the root, verification fails
        urllib.request.urlopen(live.url + "/api/v1/health", context=ssl.create_default_context(), timeout=5)


def test_api_needs_a_token_and_accepts_one(live: LiveServer) -> None:
    assert _get(live, "/api/v1/users")[0] == 401
    status, body = _get(live, "/api/v1/users", live.token())
    assert status == 200 and [u["username"] for u in json.loads(body)] == ["admin"]


def test_second_init_reuses_everything_and_prints_no_password(live: LiveServer) -> None:
    assert live.admin_password
    again = live.cli("init")
    assert "One-time password" not in again.stdout
    key = live.data_dir / "master.key"
    assert oct(key.stat().st_mode & 0o777) == "0o600"

"""Turning two-factor authentication on through the API answers the recovery codes the web page shows, and each
of them logs in once in place of a code."""

from __future__ import annotations

import time

import pyotp
from fastapi.testclient import TestClient

from certvault.container import App
from tests.conftest import create_login


def test_confirming_totp_answers_recovery_codes_that_log_in_once(sqlite_app: App, sqlite_client: TestClient) -> None:
    login, client = create_login(sqlite_app, "user"), sqlite_client
    begun = client.post("/api/v1/users/me/totp", json={"password": login.password}, headers=login.headers)
    assert begun.status_code == 200, begun.text
    code = pyotp.TOTP(begun.json()["secret"]).at(time.time())
    confirmed = client.post("/api/v1/users/me/totp/confirm", json={"code": code}, headers=login.headers)
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert body["message"] == "two-factor authentication enabled"
    codes = body["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    credentials = {"username": login.username, "password": login.password}
    assert client.post("/api/v1/auth/login", json=credentials).status_code == 401  # a code is now needed
    assert client.post("/api/v1/auth/login", json={**credentials, "totp": codes[0]}).status_code == 200
    assert client.post("/api/v1/auth/login", json={**credentials, "totp": codes[0]}).status_code == 401

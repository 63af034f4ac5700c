"""The ACME REST API as a client uses it (TestClient over HTTPS): accounts, DNS accounts, requests with
challenge values, verify, new challenge, renew, revoke and delete, with RBAC and problem+json errors."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from certvault.audit.service import AuditQuery
from certvault.container import App
from tests.conftest import Login, api_client, create_login
from tests.issuance.conftest import ADMIN, name, run_orders
from tests.servers import pebble as servers

API = "/api/v1/acme"


@pytest.fixture
def client(sqlite_acme_app: App) -> Iterator[TestClient]:
    with api_client(sqlite_acme_app) as c:
        yield c


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _problem(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return str(response.json()["detail"])


def _account(client: TestClient, admin: Login, ca: servers.Pebble) -> dict[str, Any]:
    return _ok(client.post(f"{API}/accounts", headers=admin.headers, json={
        "directory": ca.directory_url, "email": "ops@example.test", "agree_tos": True,
        "ca_bundle_pem": ca.tls_ca.read_text()}), 201)


def _dns_account(client: TestClient, login: Login, dns: servers.ChallTestSrv) -> dict[str, Any]:
    return _ok(client.post(f"{API}/dns-accounts", headers=login.headers, json={
        "provider": "challtestsrv", "name": f"ct-{uuid.uuid4().hex[:6]}",
        "options": {"management_url": f"http://127.0.0.1:{dns.management_port}", "dns_server": dns.dns}}), 201)


def _order(client: TestClient, login: Login, order_id: str) -> dict[str, Any]:
    return _ok(client.get(f"{API}/orders/{order_id}", headers=login.headers))


def test_accounts_register_update_export_recover_deactivate(
        sqlite_acme_app: App, client: TestClient, pebble: servers.Pebble) -> None:
    admin, operator = create_login(sqlite_acme_app, "administrator"), create_login(sqlite_acme_app, "operator")
    body = {"directory": pebble.directory_url, "agree_tos": False, "ca_bundle_pem": pebble.tls_ca.read_text()}
    assert "terms of service" in _problem(client.post(f"{API}/accounts", headers=admin.headers, json=body), 400)
    _problem(client.post(f"{API}/accounts", headers=operator.headers, json={**body, "agree_tos": True}), 403)
    assert _ok(client.get(f"{API}/accounts", headers=admin.headers)) == []  # nothing stored by either

    account = _account(client, admin, pebble)
    assert account["status"] == "valid" and account["has_ca_bundle"] and "key" not in str(account).lower().replace(
        "key_algorithm", "")
    changed = _ok(client.patch(f"{API}/accounts/{account['id']}", headers=admin.headers,
                               json={"email": "security@example.test"}))
    assert changed["email"] == "security@example.test"
    assert "not an email address" in _problem(client.patch(f"{API}/accounts/{account['id']}", headers=admin.headers,
                                                            json={"email": "nobody"}), 400)
    key = client.post(f"{API}/accounts/{account['id']}/export-key", headers=admin.headers)
    assert key.status_code == 200 and key.text.startswith("-----BEGIN PRIVATE KEY-----")

    recover = {"directory": pebble.directory_url, "key_pem": key.text, "ca_bundle_pem": pebble.tls_ca.read_text()}
    assert "already in certvault" in _problem(client.post(f"{API}/accounts/recover", headers=admin.headers,
                                                          json=recover), 409)
    _ok(client.delete(f"{API}/accounts/{account['id']}", headers=admin.headers), 204)
    recovered = _ok(client.post(f"{API}/accounts/recover", headers=admin.headers, json=recover), 201)
    assert recovered["account_url"] == account["account_url"] and recovered["email"] == "security@example.test"

    gone = _ok(client.post(f"{API}/accounts/{recovered['id']}/deactivate", headers=admin.headers))
    assert gone["status"] == "deactivated"
    refused = client.post(f"{API}/orders", headers=operator.headers, json={
        "account_id": recovered["id"], "domains": [name()], "challenge": "dns-01"})
    assert "deactivated" in _problem(refused, 409)
    with sqlite_acme_app.transaction() as svc:
        actions = [e.action for e in svc.audit.search(ADMIN, AuditQuery(action="acme.account."))[0]]
    assert {"acme.account.register", "acme.account.update", "acme.account.export_key", "acme.account.delete",
            "acme.account.recover", "acme.account.deactivate"} <= set(actions)


def test_manual_request_shows_values_then_verify_issues(
        sqlite_acme_app: App, client: TestClient, pebble: servers.Pebble, challtestsrv: servers.ChallTestSrv) -> None:
    with sqlite_acme_app.transaction() as svc:
        svc.system.set(ADMIN, "acme.dns_check_servers", [challtestsrv.dns])
    admin, operator = create_login(sqlite_acme_app, "administrator"), create_login(sqlite_acme_app, "operator")
    account = _account(client, admin, pebble)
    domain = name("manual")
    assert "at most 100" in _problem(client.post(f"{API}/orders", headers=operator.headers, json={
        "account_id": account["id"], "domains": [name(str(i)) for i in range(101)], "challenge": "dns-01"}), 400)
    order = _ok(client.post(f"{API}/orders", headers=operator.headers, json={
        "account_id": account["id"], "domains": [domain], "challenge": "dns-01"}), 201)
    run_orders(sqlite_acme_app)
    pending = _order(client, operator, order["id"])
    assert pending["status"] == "pending"
    challenge = pending["challenges"][0]
    assert challenge["dns_name"] == f"_acme-challenge.{domain}" and len(challenge["dns_value"]) == 43

    challtestsrv.set_txt(challenge["dns_name"], challenge["dns_value"])  # the person publishes the record
    try:
        assert _ok(client.post(f"{API}/orders/{order['id']}/verify", headers=operator.headers))["status"] == \
            "processing"
        run_orders(sqlite_acme_app)
    finally:
        challtestsrv.clear_txt(challenge["dns_name"])
    done = _order(client, operator, order["id"])
    assert done["status"] == "available" and done["certificate_id"] and done["serial"], done
    assert "only a pending order" in _problem(client.post(f"{API}/orders/{order['id']}/verify",
                                                          headers=operator.headers), 409)
    assert "failed or pending" in _problem(client.post(f"{API}/orders/{order['id']}/new-challenge",
                                                       headers=operator.headers), 409)


def test_new_challenge_after_a_failure_starts_again(
        sqlite_acme_app: App, client: TestClient, pebble: servers.Pebble, challtestsrv: servers.ChallTestSrv) -> None:
    admin, operator = create_login(sqlite_acme_app, "administrator"), create_login(sqlite_acme_app, "operator")
    account, dns = _account(client, admin, pebble), _dns_account(client, operator, challtestsrv)
    domain = name("retry")
    challtestsrv.set_servfail(f"_acme-challenge.{domain}")  # the DNS service is broken for this name
    try:
        order = _ok(client.post(f"{API}/orders", headers=operator.headers, json={
            "account_id": account["id"], "domains": [domain], "challenge": "dns-01", "dns_account_id": dns["id"]}),
            201)
        run_orders(sqlite_acme_app)
    finally:
        challtestsrv.clear_servfail(f"_acme-challenge.{domain}")
    failed = _order(client, operator, order["id"])
    assert failed["status"] == "failed" and "still not visible after 3 s" in failed["error"], failed

    again = _ok(client.post(f"{API}/orders/{order['id']}/new-challenge", headers=operator.headers))
    assert (again["status"], again["attempt"], again["error"]) == ("processing", 2, None)
    run_orders(sqlite_acme_app)
    assert _order(client, operator, order["id"])["status"] == "available"
    assert "is used by" in _problem(client.delete(f"{API}/dns-accounts/{dns['id']}", headers=operator.headers), 409)


def test_renew_revoke_and_delete(
        sqlite_acme_app: App, client: TestClient, pebble: servers.Pebble, challtestsrv: servers.ChallTestSrv) -> None:
    admin, operator = create_login(sqlite_acme_app, "administrator"), create_login(sqlite_acme_app, "operator")
    auditor = create_login(sqlite_acme_app, "auditor")
    account, dns = _account(client, admin, pebble), _dns_account(client, operator, challtestsrv)
    assert "key_secret" not in str(_ok(client.get(f"{API}/dns-accounts", headers=operator.headers)))

    def issue() -> dict[str, Any]:
        created = _ok(client.post(f"{API}/orders", headers=operator.headers, json={
            "account_id": account["id"], "domains": [name("api")], "challenge": "dns-01",
            "dns_account_id": dns["id"]}), 201)
        run_orders(sqlite_acme_app)
        return _order(client, operator, created["id"])

    first, second = issue(), issue()
    cert_id = first["certificate_id"]
    time.sleep(1.1)  # Pebble's validity has 1 s resolution: the renewal must end later
    renewal = _ok(client.post(f"{API}/certificates/{cert_id}/renew", headers=operator.headers), 201)
    assert renewal["purpose"] == "renew"
    run_orders(sqlite_acme_app)
    renewed = _order(client, operator, renewal["id"])
    assert renewed["status"] == "available" and renewed["certificate_id"] == cert_id
    managed = _ok(client.get(f"{API}/certificates/{cert_id}", headers=auditor.headers))
    assert managed["serial"] == renewed["serial"] != first["serial"]

    _problem(client.post(f"{API}/certificates/{cert_id}/revoke", headers=auditor.headers, json={"reason": 4}), 403)
    assert "revocation reason must be one of" in _problem(client.post(
        f"{API}/certificates/{cert_id}/revoke", headers=operator.headers, json={"reason": 2}), 400)
    revoked = _ok(client.post(f"{API}/certificates/{cert_id}/revoke", headers=operator.headers, json={"reason": 4}))
    assert (revoked["status"], revoked["revocation_reason"]) == ("revoked", 4)
    status = pebble.cert_status(int(renewed["serial"], 16))
    assert (status["Status"], status["Reason"]) == ("Revoked", 4)
    assert "already revoked" in _problem(client.post(f"{API}/certificates/{cert_id}/revoke",
                                                     headers=operator.headers, json={"reason": 4}), 409)

    gone = second["certificate_id"]
    _ok(client.delete(f"{API}/certificates/{gone}", headers=operator.headers), 204)
    _problem(client.get(f"{API}/certificates/{gone}", headers=operator.headers), 404)
    _problem(client.get(f"/api/v1/certificates/{gone}", headers=operator.headers), 404)
    assert pebble.cert_status(int(second["serial"], 16))["Status"] == "Valid"  # deleted here, still valid there

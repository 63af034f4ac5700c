"""The ACME pages' DNS tab: the add form shows only the chosen provider's fields, a refusal comes back
next to the form with what was typed (never a secret), test lists the zones, enable and disable; an
acme-dns registration shows the CNAME to create; a pending dns-01 order can be assigned an account."""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from certvault.container import App
from certvault.issuance.models import AcmeOrder
from tests.conftest import create_login, web_login
from tests.servers.moto_server import ACCESS_KEY, SECRET_KEY, MotoServer


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer(Path(tempfile.mkdtemp(prefix="cv-moto-web-"))).start()
    server.create_zone("webzone.test")
    yield server
    server.stop()


def _ids(text: str) -> list[str]:
    return re.findall(r'action="/acme/dns/([0-9a-f-]{36})/test"', text)


def test_the_dns_tab_adds_tests_disables_and_enables(sqlite_app: App, sqlite_client: TestClient,
                                                      moto: MotoServer) -> None:
    csrf = web_login(sqlite_client, create_login(sqlite_app, "operator"), "/acme/dns")
    form = sqlite_client.get("/acme/dns?provider=route53").text
    assert 'name="opt.hosted_zone_id"' in form and 'name="secret.secret_access_key"' in form
    assert 'name="opt.key_name"' not in form  # only this provider's fields
    assert "Amazon Route 53" in sqlite_client.get("/acme/dns").text  # the provider chooser

    refused = sqlite_client.post("/acme/dns/add/route53", data={
        "csrf_token": csrf, "name": "aws", "opt.access_key_id": ACCESS_KEY, "opt.endpoint": moto.endpoint})
    assert refused.status_code == 400 and "both the access key id and the secret" in refused.text
    assert f'value="{moto.endpoint}"' in refused.text

    added = sqlite_client.post("/acme/dns/add/route53", data={
        "csrf_token": csrf, "name": "aws", "opt.access_key_id": ACCESS_KEY, "opt.endpoint": moto.endpoint,
        "secret.secret_access_key": SECRET_KEY})
    assert added.status_code == 201 and "Added aws." in added.text and SECRET_KEY not in added.text
    [account_id] = _ids(added.text)

    tested = sqlite_client.post(f"/acme/dns/{account_id}/test", data={"csrf_token": csrf})
    assert tested.status_code == 200 and "Zones it can edit" in tested.text
    assert '<li class="mono">webzone.test</li>' in tested.text

    assert sqlite_client.post(f"/acme/dns/{account_id}/disable", data={"csrf_token": csrf}).status_code == 200
    page = sqlite_client.get("/acme/dns").text
    assert f'action="/acme/dns/{account_id}/enable"' in page
    sqlite_client.post(f"/acme/dns/{account_id}/enable", data={"csrf_token": csrf})
    assert f'action="/acme/dns/{account_id}/disable"' in sqlite_client.get("/acme/dns").text


def test_a_pending_order_is_assigned_a_dns_account_from_its_page(sqlite_app: App, sqlite_client: TestClient,
                                                                  moto: MotoServer) -> None:
    """The order is made pending directly in the database (no CA needed to show the form)."""
    csrf = web_login(sqlite_client, create_login(sqlite_app, "operator"), "/acme/dns")
    sqlite_client.post("/acme/dns/add/route53", data={
        "csrf_token": csrf, "name": "aws", "opt.access_key_id": ACCESS_KEY, "opt.endpoint": moto.endpoint,
        "secret.secret_access_key": SECRET_KEY})
    with sqlite_app.transaction() as svc:
        [account] = svc.issuance.dns_accounts.list_accounts(create_login_actor())
        order = AcmeOrder(id=uuid.uuid4(), names=["a.webzone.test"], challenge_type="dns-01", fulfilment="manual",
                          key_algorithm="ec256", created_by="test", state="authorizations_pending")
        svc.session.add(order)
        order_id, account_id = order.id, account.id
    page = sqlite_client.get(f"/acme/orders/{order_id}").text
    assert "Assign DNS account" in page and f'<option value="{account_id}">aws (route53)</option>' in page
    wrong = sqlite_client.post(f"/acme/dns/assign/{order_id}", data={"csrf_token": csrf,
                                                                     "dns_account_id": str(uuid.uuid4())})
    assert wrong.status_code == 404, wrong.text[:3000]
    assert 'role="alert"' in wrong.text and "no DNS account" in wrong.text
    done = sqlite_client.post(f"/acme/dns/assign/{order_id}", data={"csrf_token": csrf,
                                                                    "dns_account_id": str(account_id)},
                              follow_redirects=False)
    assert done.status_code == 303
    with sqlite_app.transaction() as svc:
        stored = svc.session.get(AcmeOrder, order_id)
        assert stored is not None and (stored.dns_account_id, stored.fulfilment) == (account_id, "dns")


def create_login_actor() -> object:
    from certvault.auth.rbac import Actor

    return Actor.system("test-admin", via="cli")


def test_the_rest_api_tests_an_account_and_assigns_it(sqlite_app: App, moto: MotoServer) -> None:
    from tests.conftest import api_client

    login = create_login(sqlite_app, "operator")
    with api_client(sqlite_app) as client:
        made = client.post("/api/v1/acme/dns-accounts", headers=login.headers, json={
            "provider": "route53", "name": "aws-api", "options": {"access_key_id": ACCESS_KEY,
                                                                  "endpoint": moto.endpoint},
            "secrets": {"secret_access_key": SECRET_KEY}})
        assert made.status_code == 201, made.text
        account_id = made.json()["id"]
        tested = client.post(f"/api/v1/acme/dns-accounts/{account_id}/test", headers=login.headers).json()
        assert tested["ok"] is True and "webzone.test" in tested["zones"]
        with sqlite_app.transaction() as svc:
            order = AcmeOrder(id=uuid.uuid4(), names=["b.webzone.test"], challenge_type="dns-01",
                              fulfilment="manual", key_algorithm="ec256", created_by="test",
                              state="authorizations_pending")
            svc.session.add(order)
            order_id = order.id
        assigned = client.post(f"/api/v1/acme/orders/{order_id}/dns-account", headers=login.headers,
                               json={"dns_account_id": account_id})
        assert assigned.status_code == 200 and assigned.json()["dns_account_id"] == account_id
        assert assigned.json()["fulfilment"] == "dns"
        again = client.post(f"/api/v1/acme/orders/{uuid.uuid4()}/dns-account", headers=login.headers,
                            json={"dns_account_id": account_id})
        assert again.status_code == 404
        viewer = create_login(sqlite_app, "auditor")
        refused = client.post(f"/api/v1/acme/orders/{order_id}/dns-account", headers=viewer.headers,
                              json={"dns_account_id": account_id})
        assert refused.status_code == 403

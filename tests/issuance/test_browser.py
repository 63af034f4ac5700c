"""A person in headless Chromium against a real `certvault serve` (embedded worker): register an ACME
account on Pebble, add an RFC 2136 DNS account on BIND9, request a wildcard + apex certificate, watch
it become available, then revoke it through the confirmation page; Pebble reports it revoked."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.servers import pebble as servers
from tests.servers.bind9 import Bind9, bind9
from tests.servers.browser import browser_page, first_login
from tests.servers.certvault_server import LiveServer

NEW_PASSWORD = "Acme-browser-2026!"


@pytest.fixture(scope="module")
def stack() -> tuple[Bind9, servers.Pebble]:
    named = bind9()
    ca = servers.shared("pebble-bind9", lambda: servers.Pebble(Path(tempfile.mkdtemp(prefix="cv-pebble-bind-")),
                                                               dns_server=named.address).start())
    return named, ca


def test_request_watch_and_revoke_from_the_browser(live: LiveServer, stack: tuple[Bind9, servers.Pebble],
                                                   tmp_path: Path) -> None:
    named, ca = stack
    apex = f"w{uuid.uuid4().hex[:8]}.bind.test"
    with browser_page() as page:
        assert live.admin_password
        first_login(page, live.url + "/acme", live.admin_password, NEW_PASSWORD)
        page.click("nav >> text=ACME")
        page.click("main >> text=Accounts & DNS accounts")
        page.wait_for_url("**/acme/accounts*")
        page.fill("#directory", ca.directory_url)
        page.fill("#email", "ops@bind.test")
        page.fill("#ca_bundle_pem", ca.tls_ca.read_text())
        page.click("form[action='/acme/accounts'] button[type=submit]")  # without agreeing first
        assert "terms of service" in page.inner_text(".flash.error")
        page.check("input[name=agree_tos]")
        page.click("form[action='/acme/accounts'] button[type=submit]")
        page.wait_for_url("**/acme/accounts*")
        assert "Active" in page.inner_text("main table >> nth=0")  # an ACME account's "valid", in words

        dns_form = page.locator("form[action='/acme/dns-accounts']")
        dns_form.locator("input[name=name]").fill("bind primary")
        dns_form.locator("input[name=server]").fill(named.address)
        dns_form.locator("input[name=key_name]").fill(named.key_name)
        dns_form.locator("input[name=key_secret]").fill(named.secret)
        dns_form.locator("input[name=zone]").fill("bind.test")
        dns_form.locator("button[type=submit]").click()
        page.wait_for_url("**/acme/accounts*")
        assert "bind primary" in page.inner_text("main") and named.secret not in page.content()

        page.click("main >> text=New request")
        page.fill("#domains", f"{apex}\n*.{apex}")
        page.select_option("#challenge", "dns-01")
        page.select_option("#dns_account_id", label="bind primary (rfc2136)")
        page.select_option("#keystore", "pkcs12")
        page.fill("#keystore_password", "P12-browser-pass")
        page.click("form[action='/acme/request'] button[type=submit]")
        page.wait_for_url("**/acme/orders/*")
        deadline = time.monotonic() + 60
        while "issued" not in page.inner_text(".panel .badge") and time.monotonic() < deadline:
            time.sleep(0.3)
            page.reload()
        assert page.inner_text(".panel .badge") == "Certificate issued", page.inner_text("main")
        challenges = page.inner_text("main table")
        assert apex in challenges and f"*.{apex}" in challenges
        assert "keystore pkcs12" in page.inner_text("main")
        page.screenshot(path=str(tmp_path / "order.png"), full_page=True)

        page.click("main >> text=Renewals")
        page.wait_for_url("**/acme/renewals*")
        row = page.locator("tbody tr", has_text=apex)
        assert "When a third of its lifetime is left" in row.inner_text() and "one_third" not in row.inner_text()
        row.locator("text=Revoke…").click()
        page.wait_for_url("**/revoke")
        page.select_option("#reason", "4")
        page.click("button.danger")  # not confirmed yet
        assert "tick the confirmation box first" in page.inner_text(".flash.error")
        page.check("input[name=confirm]")
        page.select_option("#reason", "4")
        page.click("button.danger")
        page.wait_for_url("**/acme/renewals*")
        assert "revoked" in page.locator("tbody tr", has_text=apex).inner_text().lower()
        page.screenshot(path=str(tmp_path / "renewals.png"), full_page=True)

    renewals = json.loads(live.cli("acme", "renewals", "--json").stdout)
    assert [r["status"] for r in renewals] == ["revoked"]
    status = ca.cert_status(int(renewals[0]["serial"], 16))
    assert (status["Status"], status["Reason"]) == ("Revoked", 4)

"""A person in headless Chromium against a real `certvault serve` (embedded worker): scan now, watch
the run finish, open the endpoint and read its weak ciphers; the CLI sees the same history."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.scanning.tls import ScanCA, TlsServers
from tests.servers.browser import browser_page, first_login
from tests.servers.certvault_server import LiveServer

NEW_PASSWORD = "Scanner-pass-2026!"


def test_scan_now_from_the_browser(live: LiveServer, test_ca: ScanCA, tls_servers: TlsServers,
                                   tmp_path: Path) -> None:
    server = tls_servers.serve(test_ca.issue(["legacy.test"], ["127.0.0.2"]), ip="127.0.0.2", profile="legacy")
    target = f"127.0.0.2:{server.port}"
    assert live.admin_password
    with browser_page() as page:
        first_login(page, live.url + "/scans", live.admin_password, NEW_PASSWORD)

        page.click("nav >> text=Scans")
        page.wait_for_url(live.url + "/scans")
        page.fill("#hosts", target)
        page.fill("#ca_pem", test_ca.ca_pem)
        page.click("form[action='/scans/run'] button[type=submit]")
        page.wait_for_url("**/scans/runs/*")
        deadline = time.monotonic() + 60
        while "done" not in page.inner_text("h1").lower() and time.monotonic() < deadline:
            time.sleep(0.5)
            page.reload()
        assert "done" in page.inner_text("h1").lower()
        assert "1/1" in page.inner_text("#progress")
        page.screenshot(path=str(tmp_path / "run.png"), full_page=True)

        page.click(f"#results >> text={target}")
        page.wait_for_url("**/scans/endpoints/*")
        main = page.inner_text("main")
        assert "legacy protocol TLSv1.0 offered" in main and "anonymous key exchange" in main
        assert page.locator("#weak-ciphers tbody tr").count() > 0
        assert page.locator("#history tbody tr").count() == 1
        page.screenshot(path=str(tmp_path / "endpoint.png"), full_page=True)

        page.goto(live.url + "/scans?vulnerable_to=anonymous_ciphers")
        assert page.locator("#endpoints tbody tr[data-endpoint]").count() == 1
        page.screenshot(path=str(tmp_path / "endpoints.png"), full_page=True)

    history = json.loads(live.cli("scan", "history", target, "--json").stdout)
    assert len(history[0]["results"]) == 1 and history[0]["results"][0]["grade"] == "F"

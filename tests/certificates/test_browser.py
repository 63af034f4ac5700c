"""A person in headless Chromium: first login with the one-time password, forced password change,
import of a certificate file, and the certificate in the list and on its page."""

from __future__ import annotations

from pathlib import Path

from tests.certificates.factory import make_ca, make_leaf
from tests.servers.browser import browser_page, first_login
from tests.servers.certvault_server import LiveServer

NEW_PASSWORD = "Browser-pass-2026!"


def test_admin_imports_a_certificate_and_sees_it(live: LiveServer, tmp_path: Path) -> None:
    ca = make_ca("Browser Test CA")
    leaf = make_leaf(ca, "browser.example.com", ["browser.example.com", "www.browser.example.com"], days=45)
    upload = tmp_path / "browser.pem"
    upload.write_bytes(leaf.pem + ca.pem + leaf.key_pem)
    assert live.admin_password
    with browser_page() as page:
        first_login(page, live.url + "/certificates", live.admin_password, NEW_PASSWORD)
        assert page.locator("h1").inner_text() == "Dashboard", (page.url, page.inner_text("body"))

        page.click("nav >> text=Certificates")
        page.click("text=Import")
        page.set_input_files("#files", str(upload))
        page.fill("#tags", "browser-test")
        page.click("main form button[type=submit]")
        report = page.locator("#import-report")
        assert "1 file(s) imported, 0 refused" in report.inner_text()

        page.goto(live.url + "/certificates?tag=browser-test")
        row = page.locator("#certificates tbody tr").first
        assert "browser.example.com" in row.inner_text() and "Browser Test CA" in row.inner_text()
        row.locator("a").first.click()
        page.wait_for_url("**/certificates/*")
        assert "www.browser.example.com" in page.inner_text("main")
        assert "private key stored (encrypted)" in page.inner_text("main")
        page.screenshot(path=str(tmp_path / "detail.png"), full_page=True)

"""Headless Debian Chromium driven by Playwright (no browser download: executable_path is fixed)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError("Debian chromium is not installed (make test installs it)")


@contextmanager
def browser_page(ca_file: str | None = None) -> Iterator[Any]:
    """A fresh browser context that trusts nothing extra; HTTPS errors from our private CA are
    accepted only for the given server (ignore_https_errors), as an operator would after trusting
    the root."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                     args=CHROMIUM_ARGS)  # Playwright gives it a fresh temporary profile
        context = browser.new_context(ignore_https_errors=True)
        page = context.new_page()
        try:
            yield page
        finally:
            context.close()
            browser.close()


def first_login(page: Any, url: str, one_time_password: str, new_password: str) -> None:
    """Open `url` as the first administrator: log in with the one-time password, then choose a new one
    on the forced password-change page, and land where `url` led."""
    page.goto(url)
    assert "/login" in page.url, page.url
    page.fill("#username", "admin")
    page.fill("#password", one_time_password)
    page.click("button[type=submit]")
    page.wait_for_url("**/account/password")
    page.fill("#current", one_time_password)
    page.fill("#new", new_password)
    page.click("main button[type=submit]")  # not the header's "Log out" button
    page.wait_for_url(lambda where: "/account/password" not in where)
    page.wait_for_load_state()

"""A person in headless Chromium against a real `certvault serve`: create a folder and a password secret
with the generator, reveal the password, and find the view in the secret's own audit trail."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import expect

from tests.servers.browser import browser_page, first_login
from tests.servers.certvault_server import LiveServer

NEW_PASSWORD = "Vault-browser-2026!"


def test_create_a_folder_and_a_secret_then_reveal_it_and_see_the_view_audited(live: LiveServer,
                                                                               tmp_path: Path) -> None:
    assert live.admin_password
    with browser_page() as page:
        first_login(page, live.url + "/vault", live.admin_password, NEW_PASSWORD)

        page.click("nav >> text=Vault")
        page.wait_for_url(live.url + "/vault")
        page.fill("#folder-name", "Network devices")
        page.click("#folder-form button[type=submit]")
        page.wait_for_url("**/vault/folders/*")
        assert "Folder created." in page.inner_text("main")
        assert "Network devices" in page.inner_text("#folder-tree")

        page.click("a.button:has-text('Password')")
        page.wait_for_url("**/vault/secrets/new*")
        page.fill("#name", "core-router")
        page.fill("[id='field.username']", "netadmin")
        page.fill("[id='field.host']", "10.0.0.1")
        page.click("button.generate")
        # A locator assertion, not wait_for_function: the page's CSP forbids the eval the latter polls with.
        expect(page.locator("[id='field.password']")).not_to_have_value("", timeout=10_000)
        generated = page.input_value("[id='field.password']")
        assert len(generated) == 24
        page.click("#secret-form button[type=submit]")
        page.wait_for_url("**/vault/secrets/*?done=created")
        assert generated not in page.content()  # nothing is shown before a reveal
        page.screenshot(path=str(tmp_path / "secret.png"), full_page=True)

        page.click("tr[data-field=password] button:has-text('Reveal')")
        page.wait_for_selector("#value-password")
        assert page.input_value("#value-password") == generated
        trail = page.inner_text("#trail")
        assert "secret.view_field" in trail and "admin" in trail and "127.0.0.1" in trail
        page.screenshot(path=str(tmp_path / "revealed.png"), full_page=True)

        # A plain field (the username) is shown as it is; Copy puts a secret field's value in the clipboard
        # without showing it, and is audited as a copy.
        page.goto(page.url.rsplit("/reveal", 1)[0])  # the secret page, without re-posting the reveal
        assert page.input_value("#value-username") == "netadmin"
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
        page.click("tr[data-field=password] button:has-text('Copy')")
        page.wait_for_selector("tr[data-field=password] .copied:has-text('copied')")
        assert page.evaluate("navigator.clipboard.readText()") == generated
        page.goto(page.url.rsplit("/reveal", 1)[0])
        assert generated not in page.content() and "secret.copy_field" in page.inner_text("#trail")

    listed = json.loads(live.cli("secret", "list", "--search", "core-router", "--json").stdout)
    assert [i["folder_path"] for i in listed["items"]] == ["Network devices"]

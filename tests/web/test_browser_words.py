"""Issue 16's remaining gaps in headless Debian Chromium at 390 and 1280 px against a real `certvault serve`:
non-secret vault fields on the page (copyable) while the password stays behind Reveal; the vault channel form
follows the chosen kind; the dashboard's open-ticket and vault cards open their filter; a lone key's import says
which certificate it belongs to; certvault scans itself and grades A+ (it trusts its own internal CA) and an
unreachable endpoint reads in plain words; a schedule keeps its own port and is deleted only after a confirmation.
Each page: no sideways scroll at 390 px, no serious or critical axe-core violation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.certificates.factory import make_ca, make_leaf
from tests.servers.browser import browser_page
from tests.servers.certvault_server import LiveServer
from tests.servers.process import free_port
from tests.web.test_browser import _axe, _no_sideways_scroll

PASSWORD = "Browser-words-2026!"
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 900}
WIDTHS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1280px"])


@pytest.fixture(scope="module")
def session(live: LiveServer) -> Iterator[tuple[Any, LiveServer]]:
    assert live.admin_password
    with browser_page() as page:
        page.goto(live.url + "/")
        page.fill("#username", "admin")
        page.fill("#password", live.admin_password)
        page.click("button[type=submit]")
        page.wait_for_url("**/account/password")
        page.fill("#current", live.admin_password)
        page.fill("#new", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(lambda where: "/account/password" not in where)
        live.admin_password = PASSWORD
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
        yield page, live


def _check(page: Any) -> None:
    page.wait_for_load_state()
    _no_sideways_scroll(page)
    _axe(page)


@WIDTHS
def test_vault_shows_non_secret_fields_and_copies_them(session: tuple[Any, LiveServer],
                                                       viewport: dict[str, int]) -> None:
    page, live = session
    page.set_viewport_size(viewport)
    page.goto(live.url + "/vault")
    page.fill("#folder-name", f"Ops{viewport['width']}")
    page.click("#folder-form button[type=submit]")
    assert "Folder created." in page.inner_text("main")
    page.click(f"#folder-tree a:text-is('Ops{viewport['width']}')")
    page.click("main a[href*='/vault/secrets/new'][href$='template=password']")
    page.fill("#name", "db01")
    page.fill("[id='field.username']", "dbadmin")
    page.fill("[id='field.password']", "S3cret-pass-2026!")
    page.fill("[id='field.host']", "db01.example.com")
    page.fill("[id='field.notes']", "rotate monthly")
    page.click("#secret-form button[type=submit]")
    page.wait_for_url("**/vault/secrets/*")
    assert page.input_value("#value-username") == "dbadmin" and page.input_value("#value-host") == "db01.example.com"
    assert page.input_value("#value-notes") == "rotate monthly"
    values = page.inner_text("#values")
    assert "S3cret-pass-2026!" not in page.content() and "••••••" in values
    assert page.locator("tr[data-field=password] button:text-is('Reveal')").is_visible()
    assert page.locator("tr[data-field=username] button:text-is('Reveal')").count() == 0
    assert page.inner_text("#state") == "ready"
    page.click("tr[data-field=username] button[data-copy]")
    page.wait_for_function("document.querySelector('tr[data-field=username] .copied').textContent === 'copied'")
    assert page.evaluate("navigator.clipboard.readText()") == "dbadmin"
    _check(page)
    page.click("#delete-secret summary")
    page.click("#delete-secret button:has-text('Yes, delete db01')")
    page.wait_for_url("**/vault/folders/*done=deleted")
    assert "Deleted." in page.inner_text("main") and page.locator("main a:text-is('db01')").count() == 0


@WIDTHS
def test_the_vault_channel_form_follows_the_chosen_kind(session: tuple[Any, LiveServer],
                                                        viewport: dict[str, int]) -> None:
    page, live = session
    page.set_viewport_size(viewport)
    page.goto(live.url + "/vault/notifications")
    assert page.locator("#ch-recipients").is_visible() and page.locator("#ch-url").count() == 0
    page.select_option("#add-channel select[name=kind]", "syslog")
    page.click("#add-channel button:has-text('Show its fields')")
    page.wait_for_url("**/vault/notifications?kind=syslog")
    assert page.locator("#ch-transport").is_visible() and page.locator("#ch-recipients").count() == 0
    assert page.locator("#ch-url").count() == 0 and page.locator("#ch-secret").count() == 0
    _check(page)


@WIDTHS
def test_dashboard_cards_open_their_filter(session: tuple[Any, LiveServer], viewport: dict[str, int]) -> None:
    page, live = session
    page.set_viewport_size(viewport)
    page.goto(live.url + "/")
    cards = page.locator("#attention")
    for count in ("failed-orders", "open-tickets", "vault-requests", "secrets-overdue"):
        assert cards.locator(f"[data-count={count}]").is_visible(), count
    _check(page)
    cards.locator("a[href='/tickets?status=open']").click()
    page.wait_for_url("**/tickets?status=open")
    assert "Showing open tickets only" in page.inner_text("#ticket-filter")
    _check(page)


def test_a_lone_key_import_names_its_certificate(session: tuple[Any, LiveServer], tmp_path: Path) -> None:
    page, live = session
    page.set_viewport_size(PHONE)
    ca = make_ca("Words CA")
    leaf = make_leaf(ca, "lonekey.example.com", ["lonekey.example.com"], days=40)
    (tmp_path / "lonekey.pem").write_bytes(leaf.pem)
    (tmp_path / "lonekey.key").write_bytes(leaf.key_pem)
    for name in ("lonekey.pem", "lonekey.key"):
        page.goto(live.url + "/certificates/import")
        page.set_input_files("#files", str(tmp_path / name))
        page.click("main form button[type=submit]")
        page.wait_for_load_state()
    report = page.inner_text("#import-report")
    assert "Private key for lonekey.example.com, expires" in report and "UTC" in report
    _check(page)


def test_certvault_grades_itself_and_says_why_an_endpoint_is_unreachable(session: tuple[Any, LiveServer]) -> None:
    page, live = session
    page.set_viewport_size(DESKTOP)
    closed = free_port()
    page.goto(live.url + "/scans")
    page.fill("#hosts", f"127.0.0.1:{live.port}\n127.0.0.1:{closed}")
    page.click("form[action='/scans/run'] button[type=submit]")
    page.wait_for_url("**/scans/runs/*")
    deadline = time.monotonic() + 120
    while page.locator(f"tr:has-text('127.0.0.1:{live.port}') [data-grade]").count() == 0 \
            and time.monotonic() < deadline:
        time.sleep(1)
        page.reload()
    own = page.locator(f"tr:has-text('127.0.0.1:{live.port}') [data-grade]")
    assert own.get_attribute("data-grade") == "A+", page.inner_text("main")
    page.goto(live.url + "/scans?host=127.0.0.1")
    page.click(f"#endpoints a:text-is('127.0.0.1:{closed}')")
    message = page.inner_text("main .flash.error")
    assert f"Could not connect to 127.0.0.1:{closed}: nothing is listening there" in message
    assert "SSLv2" not in message
    page.set_viewport_size(PHONE)
    _check(page)


def test_a_schedule_keeps_its_port_and_deleting_asks_first(session: tuple[Any, LiveServer]) -> None:
    page, live = session
    page.set_viewport_size(PHONE)
    page.goto(live.url + "/scans/schedules")
    page.fill("#name", "own-port")
    page.fill("#time", "02:30")
    page.fill("#hosts", "127.0.0.1:18443")
    page.click("form[action='/scans/schedules'] button[type=submit]")
    row = page.locator("#schedules tr", has_text="own-port")
    assert "127.0.0.1:18443" in row.inner_text() and "443," not in row.inner_text()
    assert "port 443" not in row.inner_text() and "ports 443" not in row.inner_text()
    _check(page)
    confirm = row.locator("button:has-text('Yes, delete own-port')")
    assert not confirm.is_visible()
    row.locator("summary:has-text('Delete')").click()
    confirm.click()
    page.wait_for_url("**/scans/schedules?done=schedule-deleted")
    assert "Schedule deleted." in page.inner_text("#confirmation")
    assert page.locator("#schedules tr", has_text="own-port").count() == 0

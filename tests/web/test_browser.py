"""Every screen in headless Debian Chromium at phone (390 px) and desktop (1280 px) width, against a real
`certvault serve`: the page never scrolls sideways at 390 px, every navigation link is reachable (behind the
Menu button on a phone), axe-core finds no serious or critical accessibility violation, error paths are styled
pages or messages next to the field, confirmations appear, and the keyboard reaches a visible focus."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.certificates.factory import make_ca, make_leaf
from tests.servers.browser import browser_page
from tests.servers.certvault_server import LiveServer

NEW_PASSWORD = "Browser-pass-2026!"
AXE = (Path(__file__).parent / "axe" / "axe.min.js").read_text()
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 900}
# Pages not in the navigation (each nav link is visited as well).
SCREENS = [
    "/certificates/import", "/acme/request", "/acme/accounts", "/acme/renewals", "/scans/runs", "/scans/schedules",
    "/vault/requests", "/vault/doublelock", "/admin/groups", "/account", "/account/password", "/settings", "/ca",
    "/audit?size=25", "/no/such/page", "/certificates/not-a-uuid",
]


@pytest.fixture(scope="module")
def session(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, LiveServer]]:
    """One browser logged in as the first administrator (through the forced password change), with data."""
    ca = make_ca("Screens CA")
    bundle = tmp_path_factory.mktemp("screens") / "screens.pem"
    leaf = make_leaf(ca, "screens.example.com", ["screens.example.com", "www.screens.example.com"], days=20)
    bundle.write_bytes(leaf.pem + ca.pem)
    assert live.admin_password
    with browser_page() as page:
        page.set_viewport_size(PHONE)
        page.goto(live.url + "/")
        page.fill("#username", "admin")
        page.fill("#password", live.admin_password)
        page.click("button[type=submit]")
        page.wait_for_url("**/account/password")
        # While the password change is pending the page offers no navigation that would bounce to the login.
        assert page.locator("#site-nav").count() == 0 and page.locator("button.menu").count() == 0
        page.goto(live.url + "/certificates")
        assert page.url.endswith("/account/password")  # straight back here, not to the login page
        page.fill("#current", live.admin_password)
        page.fill("#new", NEW_PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(lambda where: "/account/password" not in where)
        assert "Your password was changed." in page.inner_text("#confirmation")
        live.admin_password = NEW_PASSWORD
        live.cli("cert", "import", str(bundle), "--tag", "screens")
        yield page, live


def _nav_links(page: Any) -> list[str]:
    return [str(a.get_attribute("href")) for a in page.locator("#site-nav a").all()]


def _no_sideways_scroll(page: Any) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"{page.url} scrolls sideways at {widths[1]} px: {widths[0]} px wide"


def _axe(page: Any) -> None:
    page.evaluate(AXE)  # evaluated by the test through the DevTools protocol: the page's CSP stays strict
    found = page.evaluate("""axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
        .filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')))""")
    assert not found, f"{page.url}: {found}"


def _visit(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state()
    _no_sideways_scroll(page)
    _axe(page)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1280px"])
def test_every_screen_fits_and_passes_axe(session: tuple[Any, LiveServer], viewport: dict[str, int]) -> None:
    page, live = session
    page.set_viewport_size(viewport)
    page.goto(live.url + "/")
    links = _nav_links(page)
    assert {"/", "/certificates", "/acme", "/ca", "/scans", "/vault", "/admin/users", "/settings", "/audit",
            "/account"} <= set(links)
    page.goto(live.url + "/certificates?tag=screens")
    page.click("#certificates tbody a")
    detail = page.url
    page.goto(live.url + "/admin/users")
    page.click("#users tbody a")
    user_page = page.url
    for path in [*links, *SCREENS, detail, user_page]:
        _visit(page, path if path.startswith("http") else live.url + path)


def test_the_navigation_folds_behind_a_menu_on_a_phone(session: tuple[Any, LiveServer]) -> None:
    page, live = session
    page.set_viewport_size(PHONE)
    page.goto(live.url + "/")
    links = _nav_links(page)
    for href in links:
        page.goto(live.url + "/")
        assert not page.locator("#site-nav").is_visible()
        page.click("button.menu")
        assert page.get_attribute("button.menu", "aria-expanded") == "true"
        link = page.locator(f'#site-nav a[href="{href}"]')
        assert link.is_visible()
        link.click()
        page.wait_for_load_state()
        assert page.url.split("?")[0] == live.url + href, (href, page.url)
        assert page.locator(f'#site-nav a[href="{href}"][aria-current="page"]').count() == 1
    page.set_viewport_size(DESKTOP)
    page.goto(live.url + "/")
    assert page.locator("#site-nav").is_visible() and not page.locator("button.menu").is_visible()


def test_keyboard_reaches_a_skip_link_and_a_visible_focus(session: tuple[Any, LiveServer]) -> None:
    page, live = session
    page.set_viewport_size(DESKTOP)
    page.goto(live.url + "/certificates")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    focused = page.evaluate("""(() => { const el = document.activeElement, s = getComputedStyle(el);
        return [el.closest('main') !== null, s.outlineStyle, s.boxShadow]; })()""")
    assert focused[0] and (focused[1] != "none" or focused[2] != "none"), focused


def test_errors_are_styled_and_next_to_their_field(session: tuple[Any, LiveServer]) -> None:
    page, live = session
    page.set_viewport_size(PHONE)
    for path in ("/no/such/page", "/certificates/not-a-uuid", "/acme/orders/12"):
        page.goto(live.url + path)
        assert page.locator("#error-page h1").inner_text() == "Not found", path
        assert "UUID" not in page.inner_text("body") and "detail" not in page.inner_text("body")
    page.goto(live.url + "/admin/users")
    page.fill("#username", "not a name!")
    page.click("#add-user button[type=submit]")
    error = page.locator("#username-error")
    error.wait_for(state="visible")  # the answer may still be loading
    assert "username" in error.inner_text()
    assert page.get_attribute("#username", "aria-invalid") == "true"
    _no_sideways_scroll(page)


def test_confirmations_before_deleting_and_after_saving(session: tuple[Any, LiveServer]) -> None:
    page, live = session
    page.set_viewport_size(PHONE)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    page.goto(live.url + "/admin/users")
    page.fill("#username", "casey")
    page.click("#add-user button[type=submit]")
    assert "User casey created" in page.inner_text("#confirmation")
    otp = page.input_value("#otp")
    page.click('button[data-copy="otp"]')
    page.wait_for_function("document.querySelector('.copied').textContent === 'copied'")
    assert page.evaluate("navigator.clipboard.readText()") == otp
    page.click("#users a:text-is('casey')")
    page.wait_for_url("**/admin/users/*")
    delete = page.locator("#user-actions details.confirm >> text=Yes, delete casey")
    assert not delete.is_visible()  # one more click first
    page.click("#user-actions summary:has-text('Delete')")
    delete.click()
    page.wait_for_url("**/admin/users?done=user-deleted")
    assert "User deleted." in page.inner_text("#confirmation") and "casey" not in page.inner_text("#users")

    page.goto(live.url + "/certificates?tag=screens")
    page.click("#certificates tbody a")
    page.fill("input[name=owner]", "platform team")
    page.click("form[action$='/update'] button[type=submit]")
    assert "Tags and owner saved." in page.inner_text("#confirmation")
    assert "platform team" in page.inner_text("main")
    _no_sideways_scroll(page)


def test_two_factor_enrolment_shows_a_qr_code(session: tuple[Any, LiveServer]) -> None:
    page, live = session
    page.set_viewport_size(PHONE)
    page.goto(live.url + "/account")
    page.fill("#totp-password", NEW_PASSWORD)
    page.click("#two-factor button[type=submit]")
    page.locator("#two-factor svg[role=img]").wait_for(state="visible")  # the answer may still be loading
    assert re.fullmatch(r"[A-Z2-7]{16,}", page.inner_text("#totp-secret"))
    _no_sideways_scroll(page)
    _axe(page)

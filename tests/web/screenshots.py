"""Regenerate docs/screenshots/*.png (`make screenshots`): the main pages of a fresh `certvault serve` with a
few imported certificates, at desktop (1280 px) and phone (390 px) width, in Debian Chromium."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.certificates.factory import make_ca, make_leaf, shared_key
from tests.servers.browser import browser_page
from tests.servers.certvault_server import remove_live_server, start_live_server

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "Screenshot-pass-2026!"
PAGES = {
    "dashboard": "/", "certificates": "/certificates", "certificate": None, "acme": "/acme",
    "scans": "/scans", "vault": "/vault", "users": "/admin/users", "account": "/account", "ca": "/ca",
    "audit": "/audit?size=25", "not-found": "/no/such/page",
}
PHONE_PAGES = ("dashboard", "certificates", "certificate", "users")


def _seed(server: object, folder: Path) -> None:
    ca, key = make_ca("Example Issuing CA"), shared_key()
    for i, (name, days) in enumerate([("www.example.com", 5), ("api.example.com", 12), ("mail.example.com", 26),
                                      ("vpn.example.com", 40), ("shop.example.com", 61), ("intranet.example", 300),
                                      ("old.example.com", -3)]):
        path = folder / f"{i}.pem"
        leaf = make_leaf(ca, name, [name], days=90, start_days_ago=90 - days, key=key)
        path.write_bytes(leaf.pem + ca.pem)
        server.cli("cert", "import", str(path), "--tag", "web" if i % 2 else "edge")  # type: ignore[attr-defined]


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    server = start_live_server()
    try:
        with tempfile.TemporaryDirectory() as folder, browser_page() as page:
            _seed(server, Path(folder))
            page.set_viewport_size({"width": 1280, "height": 860})
            page.goto(server.url + "/")
            page.fill("#username", "admin")
            page.fill("#password", str(server.admin_password))
            page.click("button[type=submit]")
            page.wait_for_url("**/account/password")
            page.fill("#current", str(server.admin_password))
            page.fill("#new", PASSWORD)
            page.click("main button[type=submit]")
            page.wait_for_url(lambda where: "/account/password" not in where)
            page.goto(server.url + "/certificates")
            page.click("#certificates tbody a")
            PAGES["certificate"] = page.url.removeprefix(server.url)
            for width, names, suffix in ((1280, PAGES, ""), (390, PHONE_PAGES, "-phone")):
                page.set_viewport_size({"width": width, "height": 860 if width > 400 else 844})
                for name in names:
                    page.goto(server.url + str(PAGES[name]))
                    page.wait_for_load_state()
                    page.screenshot(path=str(OUT / f"{name}{suffix}.png"), full_page=True)
                    print(OUT / f"{name}{suffix}.png")
    finally:
        remove_live_server(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())

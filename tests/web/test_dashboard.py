"""The dashboard: a first-run guide on an empty install; counts and chart bars that open their filter; what
expires next; endpoints by grade; a y axis."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from certvault.auth.rbac import Actor
from certvault.container import App
from tests.certificates.factory import make_ca, make_leaf, shared_key
from tests.conftest import create_login, web_login


def test_an_empty_install_shows_the_first_run_guide(sqlite_app: App, sqlite_client: TestClient) -> None:
    web_login(sqlite_client, create_login(sqlite_app, "administrator"))
    page = sqlite_client.get("/")
    assert 'id="first-run"' in page.text and 'href="/certificates/import"' in page.text
    assert 'href="/acme/accounts">Register an ACME account' in page.text


def test_counts_and_bars_lead_to_their_lists(sqlite_app: App, sqlite_client: TestClient) -> None:
    ca, key = make_ca("Dash CA"), shared_key()
    files = [(f"d{i}.pem", make_leaf(ca, f"dash{i}.example", days=days, key=key).pem)
             for i, days in enumerate((3, 3, 20, 200))]
    with sqlite_app.transaction() as svc:
        assert all(r.ok for r in svc.certificates.import_files(Actor.system("t"), files))
    web_login(sqlite_client, create_login(sqlite_app, "auditor"))
    page = sqlite_client.get("/").text
    assert 'id="first-run"' not in page
    assert re.search(r'href="/certificates\?state=7"><div class="n" data-count="7">2<', page)
    weeks = re.findall(r'<a href="(/certificates\?week=\d{4}-\d\d-\d\d)" data-expiring="(\d+)">', page)
    assert len(weeks) >= 12 and sum(int(n) for _, n in weeks) == 3  # the 200-day one is beyond the chart
    busiest = max(weeks, key=lambda w: int(w[1]))
    listed = sqlite_client.get(busiest[0]).text
    assert len(re.findall(r'href="/certificates/[0-9a-f-]{36}">dash', listed)) == int(busiest[1])
    ticks = re.findall(r'<text x="\d+(?:\.\d+)?" y="[\d.]+" text-anchor="end">(\d+)</text>', page)
    assert ticks[0] == "0" and int(ticks[-1]) >= 2  # a y axis from 0 to at least the tallest bar
    nxt = page.split('id="next-expiring"')[1].split("</section>")[0]
    assert nxt.index("dash0.example") < nxt.index("dash2.example") < nxt.index("dash3.example")

"""Tables: sortable headers, numbered pages with a page size, filters kept in the URL, CSV of what the table
shows (certificates, audit log, endpoints), the audit log's deep pages by sequence number, and the dashboard's
week links."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from certvault.auth.rbac import Actor
from certvault.container import App
from tests.certificates.factory import make_ca, make_leaf, shared_key
from tests.conftest import create_login, web_login
from tests.servers.certvault_server import LiveServer


def _import(app: App, count: int) -> None:
    ca = make_ca("Tables CA")
    key = shared_key()
    files = [(f"c{i}.pem", make_leaf(ca, f"host{i:02d}.tables.example", days=10 + i, key=key).pem)
             for i in range(count)]
    with app.transaction() as svc:
        results = svc.certificates.import_files(Actor.system("test"), files, tags=["tables"])
    assert all(r.ok for r in results), results


def _names(html: str) -> list[str]:
    return re.findall(r'>(host\d\d\.tables\.example)</a>', html)


def test_certificates_sort_page_size_numbered_pages_and_csv(sqlite_app: App, sqlite_client: TestClient) -> None:
    _import(sqlite_app, 30)
    web_login(sqlite_client, create_login(sqlite_app, "auditor"))
    first = sqlite_client.get("/certificates?tag=tables&size=25")
    assert _names(first.text) == [f"host{i:02d}.tables.example" for i in range(25)]  # soonest expiry first
    assert "1–25 of 30 certificates" in first.text and 'aria-current="page">1<' in first.text
    page_two = re.search(r'href="(\?[^"]*cursor=[^"]*)" aria-label="Page 2"', first.text)
    assert page_two and "tag=tables" in page_two[1] and "size=25" in page_two[1]  # filters stay in the URL
    second = sqlite_client.get("/certificates" + page_two[1].replace("&amp;", "&"))
    assert _names(second.text) == [f"host{i:02d}.tables.example" for i in range(25, 30)]
    header = re.search(r'<th aria-sort="ascending"><a href="(\?[^"]*)">Expires ▲', first.text)
    assert header and "sort=-expiry" in header[1]
    latest = sqlite_client.get("/certificates" + header[1].replace("&amp;", "&"))
    assert _names(latest.text)[:2] == ["host29.tables.example", "host28.tables.example"]
    by_name = sqlite_client.get("/certificates?tag=tables&sort=-name&size=25")
    assert _names(by_name.text)[0] == "host29.tables.example" and 'aria-sort="descending"' in by_name.text
    exported = sqlite_client.get("/certificates.csv?tag=tables&sort=-expiry")
    assert exported.headers["content-type"].startswith("text/csv") and "attachment" in exported.headers[
        "content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 30 and rows[0]["common_name"] == "host29.tables.example"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", rows[0]["expires"]) and rows[0]["tags"] == "tables"


def test_a_chart_week_lists_the_certificates_expiring_that_week(sqlite_app: App, sqlite_client: TestClient) -> None:
    _import(sqlite_app, 12)  # expiring 9 .. 20 days from now
    web_login(sqlite_client, create_login(sqlite_app, "auditor"))
    start = (datetime.now(UTC) + timedelta(days=12)).date()
    week = sqlite_client.get(f"/certificates?tag=tables&week={start.isoformat()}")
    names = _names(week.text)
    assert names and len(names) in (6, 7, 8)  # the seven days from that date, edges by the hour
    bad = sqlite_client.get("/certificates?week=next-tuesday")
    assert bad.status_code == 400 and "week must be a date" in bad.text


def test_audit_numbered_pages_keyset_older_pages_and_csv(sqlite_app: App, sqlite_client: TestClient) -> None:
    with sqlite_app.transaction() as svc:
        for i in range(60):
            svc.audit.record(Actor.system("tables"), "test.tables", target_type="user", target_id=f"t{i}",
                             details={"n": i, "flag": True, "names": ["a", "b"]})
    web_login(sqlite_client, create_login(sqlite_app, "auditor"))
    first = sqlite_client.get("/audit?action=test.&size=25")
    assert "1–25 of 60 entries" in first.text and 'aria-label="Page 3"' in first.text
    assert "<dd>yes</dd>" in first.text and "<dd>a, b</dd>" in first.text and "True" not in first.text
    older = re.search(r'href="(\?[^"]*cursor=[^"]*)" aria-label="Next page"', first.text)  # keyset, no OFFSET
    assert older
    deep = sqlite_client.get("/audit" + older[1].replace("&amp;", "&"))
    seqs = [int(s) for s in re.findall(r'<td class="mono">(\d+)</td><td><time', deep.text)]
    shown = [int(s) for s in re.findall(r'<td class="mono">(\d+)</td><td><time', first.text)]
    assert len(seqs) == 25 and max(seqs) < min(shown) and "26–50 of 60 entries" in deep.text
    old_link = sqlite_client.get(f"/audit?action=test.&size=25&before={min(shown)}")  # links of before: still work
    assert [int(s) for s in re.findall(r'<td class="mono">(\d+)</td><td><time', old_link.text)] == seqs
    exported = sqlite_client.get("/audit.csv?action=test.")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 60 and rows[0]["details"] == "n=59; flag=yes; names=a, b"


def test_csv_cells_cannot_become_spreadsheet_formulas(sqlite_app: App, sqlite_client: TestClient) -> None:
    with sqlite_app.transaction() as svc:
        svc.audit.record(Actor.system("=HYPERLINK(1)"), "test.csv", details={"n": -5})
    web_login(sqlite_client, create_login(sqlite_app, "auditor"))
    rows = list(csv.DictReader(io.StringIO(sqlite_client.get("/audit.csv?action=test.csv").text)))
    assert rows[0]["user"] == "'=HYPERLINK(1)" and rows[0]["details"] == "n=-5"


def test_endpoint_list_sorts_by_header_and_exports_csv(sqlite_app: App, sqlite_client: TestClient) -> None:
    web_login(sqlite_client, create_login(sqlite_app, "auditor"))
    page = sqlite_client.get("/scans?sort=grade")
    assert page.status_code == 200 and 'aria-sort="ascending"><a href="?sort=grade">Grade' in page.text
    exported = sqlite_client.get("/scans/endpoints.csv?sort=grade")
    assert exported.status_code == 200 and exported.text.startswith("host,port,ip,sni,grade")


def test_pages_by_cursor_in_a_browser_next_previous_numbers_and_last(live: LiveServer, tmp_path: Path) -> None:
    """Chromium against a real server: numbered pages, next and previous of a list paged by cursor, the filter
    and page size kept in the URL, a new page size back to the first page, a damaged cursor as a message."""
    from tests.servers.browser import browser_page, first_login

    ca, key = make_ca("Paging CA"), shared_key()
    folder = tmp_path / "paging"
    folder.mkdir()
    for i in range(60):
        (folder / f"p{i:02d}.pem").write_bytes(make_leaf(ca, f"host{i:02d}.paging.example", days=10 + i, key=key).pem)
    live.cli("cert", "import", str(folder), "--tag", "paging")
    assert live.admin_password
    with browser_page() as page:
        first_login(page, live.url + "/certificates", live.admin_password, "Paging-pass-2026!")
        page.goto(live.url + "/certificates?tag=paging&size=25")

        def shown() -> list[str]:
            return re.findall(r"host\d\d\.paging\.example", page.inner_text("#certificates tbody"))

        def pager() -> str:
            return page.inner_text("nav.pager")

        assert shown() == [f"host{i:02d}.paging.example" for i in range(25)] and "1–25 of 60" in pager()
        page.click("nav.pager >> [aria-label='Next page']")
        page.wait_for_url("**cursor=**")
        assert shown() == [f"host{i:02d}.paging.example" for i in range(25, 50)] and "26–50 of 60" in pager()
        assert "tag=paging" in page.url and "size=25" in page.url
        page.click("nav.pager >> [aria-label='Page 3']")
        page.wait_for_load_state()
        assert shown() == [f"host{i:02d}.paging.example" for i in range(50, 60)] and "51–60 of 60" in pager()
        assert page.locator("nav.pager [aria-label='Next page']").count() == 0
        page.click("nav.pager >> [aria-label='Previous page']")
        page.wait_for_load_state()
        assert shown()[0] == "host25.paging.example" and page.inner_text("nav.pager [aria-current=page]") == "2"
        page.click("nav.pager >> [aria-label='Page 1']")
        page.wait_for_load_state()
        assert shown()[0] == "host00.paging.example" and "cursor" not in page.url
        page.click("nav.pager >> [aria-label='Page 3']")  # two pages ahead, by the cursor the page computed
        page.wait_for_load_state()
        assert shown()[-1] == "host59.paging.example" and "51–60 of 60" in pager()
        page.select_option("#page-size", "50")
        page.click("nav.pager >> text=Show")
        page.wait_for_url("**size=50**")
        assert len(shown()) == 50 and "1–50 of 60" in pager() and "cursor" not in page.url
        page.goto(live.url + "/certificates?tag=paging&cursor=bm90LWEtY3Vyc29y")
        assert "damaged or out of date" in page.inner_text("[role=alert]")

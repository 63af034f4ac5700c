"""The scanning pages as a logged-in person sees them: scan now, the run's progress, the endpoints
table with grades and flags, the endpoint with its full result and history, schedules."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from certvault.container import App
from tests.conftest import create_login, csrf_of, web_login
from tests.scanning.tls import ScanCA, TlsServers


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_scan_now_progress_results_and_history_pages(
        sqlite_app: App, sqlite_client: TestClient, test_ca: ScanCA, tls_servers: TlsServers) -> None:
    good = tls_servers.serve(test_ca.issue(["good.test"], ["127.0.0.2"]), ip="127.0.0.2")
    old = tls_servers.serve(test_ca.issue(["old.test"], ["127.0.0.3"]), ip="127.0.0.3", profile="legacy")
    web_login(sqlite_client, create_login(sqlite_app, "operator"))
    page = sqlite_client.get("/scans")
    assert page.status_code == 200 and "Scan now" in page.text and "No endpoints match" in page.text

    bad = sqlite_client.post("/scans/run", data={"csrf_token": csrf_of(page.text), "hosts": "no such host!",
                                                 "ports": "443"})
    assert bad.status_code == 400 and "is not a host name" in bad.text and "no such host!" in bad.text
    no_csrf = sqlite_client.post("/scans/run", data={"hosts": f"127.0.0.2:{good.port}"})
    assert no_csrf.status_code == 403

    started = sqlite_client.post("/scans/run", follow_redirects=False, data={
        "csrf_token": csrf_of(page.text), "hosts": f"127.0.0.2:{good.port}\n127.0.0.3:{old.port}", "ports": "443",
        "ca_pem": test_ca.ca_pem})
    assert started.status_code == 303 and started.headers["location"].startswith("/scans/runs/")
    run_page = sqlite_client.get(started.headers["location"])
    assert "queued" in run_page.text.lower()
    assert 'http-equiv="refresh"' in run_page.text and "Cancel scan" in run_page.text

    sqlite_app.worker().run_until_idle(timeout=120)
    run_page = sqlite_client.get(started.headers["location"])
    text = _text(run_page.text)
    assert "done" in text.lower() and "2/2" in text and 'http-equiv="refresh"' not in run_page.text
    assert f"127.0.0.3:{old.port}" in text

    listing = sqlite_client.get("/scans")
    rows = re.findall(r'<tr data-endpoint="([^"]+)">(.*?)</tr>', listing.text, re.S)
    by_endpoint = {name: _text(html) for name, html in rows}
    assert set(by_endpoint) == {f"127.0.0.2:{good.port}", f"127.0.0.3:{old.port}"}
    legacy_row = by_endpoint[f"127.0.0.3:{old.port}"]
    assert "TLSv1.0" in legacy_row and "anonymous ciphers" in legacy_row and " F " in legacy_row
    assert re.search(r'data-grade="A', rows[0][1] if "127.0.0.2" in rows[0][0] else rows[1][1])

    filtered = sqlite_client.get("/scans", params={"vulnerable_to": "protocol:TLSv1.0"})
    assert re.findall(r'<tr data-endpoint="([^"]+)">', filtered.text) == [f"127.0.0.3:{old.port}"]
    wrong = sqlite_client.get("/scans", params={"expiring": "soon"})
    assert wrong.status_code == 400 and "expiring" in wrong.text

    link = re.search(rf'href="(/scans/endpoints/[^"]+)">127.0.0.3:{old.port}<', listing.text)
    assert link
    detail = sqlite_client.get(link.group(1))
    text = _text(detail.text)
    assert "TLS_DH_anon_WITH_AES_128_CBC_SHA" in text and "anonymous key exchange" in text
    assert "CN=old.test" in text and "legacy protocol TLSv1.0 offered" in text
    assert "weakness found" in text and "History" in text and "Full result (JSON)" in text
    rescan = re.search(r'action="/scans/run">(.*?)</form>', detail.text, re.S)  # "Scan again" on the endpoint
    assert rescan and 'name="hosts" value="127.0.0.3"' in rescan[1] and f'name="ports" value="{old.port}"' in rescan[1]


def test_schedules_page_and_read_only_roles(sqlite_app: App, sqlite_client: TestClient) -> None:
    web_login(sqlite_client, create_login(sqlite_app, "operator"))
    page = sqlite_client.get("/scans/schedules")
    created = sqlite_client.post("/scans/schedules", data={
        "csrf_token": csrf_of(page.text), "name": "nightly-dmz", "frequency": "weekly", "weekday": "tuesday",
        "time": "02:30", "hosts": "192.0.2.0/28", "ports": "443, 8443"})
    assert created.status_code == 201, created.text
    text = _text(created.text)
    assert "Schedule nightly-dmz added: weekly on Tuesday at 02:30 UTC." in text and "192.0.2.0/28" in text
    bad = sqlite_client.post("/scans/schedules", data={"csrf_token": csrf_of(page.text), "name": "x",
                                                       "frequency": "daily", "time": "noon", "hosts": "a.test"})
    assert bad.status_code == 400 and "is not HH:MM" in bad.text
    toggle = re.search(r'action="(/scans/schedules/[^"]+/toggle)"', created.text)
    assert toggle and "Pause" in created.text
    paused = sqlite_client.post(toggle.group(1), data={"csrf_token": csrf_of(page.text)})
    assert paused.status_code == 200 and "paused" in paused.text and "Resume" in paused.text
    delete = re.search(r'action="(/scans/schedules/[^"]+/delete)"', created.text)
    assert delete
    gone = sqlite_client.post(delete.group(1), data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert gone.status_code == 303
    assert "No schedules." in sqlite_client.get("/scans/schedules").text

    sqlite_client.cookies.clear()
    web_login(sqlite_client, create_login(sqlite_app, "auditor"))
    page = sqlite_client.get("/scans")
    assert page.status_code == 200 and "Scan now" not in page.text
    refused = sqlite_client.post("/scans/run", data={"csrf_token": csrf_of(page.text), "hosts": "a.test"})
    assert refused.status_code == 403
    sqlite_client.cookies.clear()
    web_login(sqlite_client, create_login(sqlite_app, "user"))
    assert sqlite_client.get("/scans", headers={"accept": "text/html"}).status_code == 403

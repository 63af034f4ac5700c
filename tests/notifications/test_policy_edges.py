"""Policies, the expiry report and the outbox through the REST API, the web pages and the command line."""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from certvault.auth.rbac import Actor
from certvault.container import App
from tests.certificates.factory import make_ca, make_leaf
from tests.conftest import create_login, web_login
from tests.servers.certvault_server import certvault_cli

ADMIN = Actor.system("test-admin", via="cli")


def _store(app: App, cn: str, days: int, tags: list[str] | None = None) -> None:
    leaf = make_leaf(make_ca(f"{cn} CA"), cn, days=days)
    with app.transaction() as svc:
        entry_id = svc.certificates.import_data(ADMIN, leaf.pem, f"{cn}.pem").entry_ids[0]
        if tags:
            svc.certificates.update(ADMIN, entry_id, tags=tags)


def _webhook_channel(app: App, name: str = "hook") -> None:
    with app.transaction() as svc:
        svc.notifications.create_channel(ADMIN, name, "webhook", {"url": "https://127.0.0.1:9/hook"})


def test_api_policies_crud_run_and_report(sqlite_app: App, sqlite_client: TestClient) -> None:
    admin, auditor = create_login(sqlite_app, "administrator"), create_login(sqlite_app, "auditor")
    _webhook_channel(sqlite_app)
    _store(sqlite_app, "api-soon.example.com", 9, ["web"])
    _store(sqlite_app, "api-later.example.com", 120)
    base = "/api/v1/notifications/policies"
    created = sqlite_client.post(base, json={"name": "weekly-web", "within_days": 14, "channels": ["hook"],
                                             "schedule": "weekly mon,thu 07:30", "timezone": "Europe/Berlin",
                                             "filters": {"tags": ["web"]}}, headers=admin.headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["channels"], body["schedule"]) == (["hook"], "weekly mon,thu 07:30")
    assert body["filters"] == {"tags": ["web"]}
    bad = sqlite_client.post(base, json={"name": "bad", "schedule": "every tuesday"}, headers=admin.headers)
    assert bad.status_code == 400 and "daily 08:00" in bad.json()["detail"]
    assert sqlite_client.get(base, headers=auditor.headers).status_code == 403
    names = [p["name"] for p in sqlite_client.get(base, headers=admin.headers).json()]
    assert names == ["expiring-certificates", "weekly-web"]
    patched = sqlite_client.patch(f"{base}/weekly-web", json={"within_days": 10}, headers=admin.headers).json()
    assert patched["within_days"] == 10 and patched["channels"] == ["hook"]
    run = sqlite_client.post(f"{base}/weekly-web/run", headers=admin.headers).json()
    assert run["certificates"] == 1 and run["channels"] == ["hook"] and len(run["messages"]) == 1
    pending = sqlite_client.get("/api/v1/notifications/outbox", params={"status": "pending"},
                                headers=admin.headers).json()
    assert [(m["channel"], m["event"]) for m in pending] == [("hook", "certificate.expiring")]
    report = sqlite_client.get("/api/v1/notifications/reports/expiry.csv", params={"within_days": 30},
                               headers=auditor.headers)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(report.text)))
    assert [r["common_name"] for r in rows] == ["api-soon.example.com"]
    message_id = pending[0]["id"]
    with sqlite_app.transaction() as svc:  # the channel stayed down through every attempt
        svc.notifications.record_failure(uuid.UUID(message_id), "connection refused", final=True)
    failed = sqlite_client.get("/api/v1/notifications/outbox", params={"status": "failed"}, headers=admin.headers)
    assert [(m["id"], m["last_error"]) for m in failed.json()] == [(message_id, "connection refused")]
    retried = sqlite_client.post(f"/api/v1/notifications/outbox/{message_id}/retry", headers=admin.headers)
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    again = sqlite_client.post(f"/api/v1/notifications/outbox/{message_id}/retry", headers=admin.headers)
    assert again.status_code == 400 and "only failed ones" in again.json()["detail"]
    assert sqlite_client.delete(f"{base}/weekly-web", headers=admin.headers).status_code == 200
    refused = sqlite_client.delete(f"{base}/expiring-certificates", headers=admin.headers)
    assert refused.status_code == 400 and "disable it instead" in refused.json()["detail"]


def test_the_event_catalogue_is_what_domains_declare(sqlite_app: App, sqlite_client: TestClient) -> None:
    admin = create_login(sqlite_app, "administrator")
    events = sqlite_client.get("/api/v1/notifications/events", headers=admin.headers).json()
    for name in ("certificate.expiring", "certificate.expired", "certificate.renewed", "acme.order_failed",
                 "scan.weakness_found", "ticket.sync_failed", "secret.expiring", "service_account.locked"):
        assert name in events, name
    _webhook_channel(sqlite_app)
    for event in ("ticket.sync_failed", "certificate.expiring"):
        made = sqlite_client.post("/api/v1/notifications/subscriptions", json={"channel": "hook", "event": event},
                                  headers=admin.headers)
        assert made.status_code == 201, made.text
    with sqlite_app.transaction() as svc:  # as the help-desk sync does when it gives up on a change
        svc.ctx.events.publish("ticket.sync_failed", title="Ticket sync failed: sdp expiry 0a1b", severity="warning")
    sqlite_app.worker().run_until_idle()
    outbox = sqlite_client.get("/api/v1/notifications/outbox", headers=admin.headers).json()
    assert [(m["event"], m["title"], m["channel"]) for m in outbox] == \
        [("ticket.sync_failed", "Ticket sync failed: sdp expiry 0a1b", "hook")]


def test_web_policy_pages_and_channel_form_per_kind(sqlite_app: App, sqlite_client: TestClient) -> None:
    admin = create_login(sqlite_app, "administrator")
    _webhook_channel(sqlite_app)
    _store(sqlite_app, "web-soon.example.com", 5)
    token = web_login(sqlite_client, admin, "/notifications")
    page = sqlite_client.get("/notifications").text
    assert "expiring-certificates" in page and "the administrators&#39; email" in page
    refused = sqlite_client.post("/notifications/policies", data={
        "csrf_token": token, "name": "typo", "kind": "expiry", "within_days": "7", "schedule": "weekly funday 07:30",
        "timezone": "UTC"})
    assert refused.status_code == 400
    assert 'id="schedule-error"' in refused.text and "funday is not a day" in refused.text
    assert 'value="weekly funday 07:30"' in refused.text  # what was typed stays
    added = sqlite_client.post("/notifications/policies", data={
        "csrf_token": token, "name": "web-week", "kind": "expiry", "within_days": "7",
        "schedule": "weekly mon,thu 07:30", "timezone": "America/New_York", "channels": "hook"},
        follow_redirects=False)
    assert added.status_code == 303
    page = sqlite_client.get("/notifications").text
    assert "web-week" in page and "weekly mon,thu 07:30 America/New_York" in page
    with sqlite_app.transaction() as svc:
        policy_id = svc.notification_policies.get(ADMIN, "web-week").id
    edit = sqlite_client.get(f"/notifications/policies/{policy_id}").text
    assert 'value="weekly mon,thu 07:30"' in edit and 'value="America/New_York"' in edit
    saved = sqlite_client.post(f"/notifications/policies/{policy_id}", data={
        "csrf_token": token, "name": "web-week", "kind": "expiry", "within_days": "9", "schedule": "daily 06:15",
        "timezone": "Asia/Tokyo", "channels": "hook", "tags": "web, shop", "enabled": "yes"}, follow_redirects=False)
    assert saved.status_code == 303
    bad_zone = sqlite_client.post(f"/notifications/policies/{policy_id}", data={
        "csrf_token": token, "name": "web-week", "kind": "expiry", "within_days": "9", "schedule": "daily 06:15",
        "timezone": "Mars/Olympus"})
    assert bad_zone.status_code == 400 and 'id="timezone-error"' in bad_zone.text
    with sqlite_app.transaction() as svc:
        policy = svc.notification_policies.get(ADMIN, "web-week")
        assert (policy.within_days, policy.schedule, policy.timezone, policy.filters) == \
            (9, "daily 06:15", "Asia/Tokyo", {"tags": ["web", "shop"]})
        policy.filters = {}
    ran = sqlite_client.post(f"/notifications/policies/{policy_id}/run", data={"csrf_token": token},
                             follow_redirects=False)
    assert ran.status_code == 303
    outbox = sqlite_client.get("/notifications/outbox").text
    assert "1 certificates expire within 9 days" in outbox and "pending" in outbox
    report = sqlite_client.get("/notifications/reports/expiry.csv", params={"within_days": 30})
    assert "web-soon.example.com" in report.text
    email_form = sqlite_client.get("/notifications/channels", params={"kind": "email"}).text
    assert 'name="opt.security"' in email_form and 'name="opt.transport"' not in email_form
    syslog_form = sqlite_client.get("/notifications/channels", params={"kind": "syslog"}).text
    assert 'name="opt.transport"' in syslog_form and 'name="opt.sender"' not in syslog_form
    webhook_form = sqlite_client.get("/notifications/channels", params={"kind": "webhook"}).text
    assert 'name="opt.format"' in webhook_form and "slack" in webhook_form and 'name="opt.host"' not in webhook_form
    web_login(sqlite_client, create_login(sqlite_app, "auditor"), "/")
    assert sqlite_client.get("/notifications").status_code == 403
    assert sqlite_client.get("/notifications/outbox").status_code == 403
    assert "web-soon.example.com" in sqlite_client.get("/notifications/reports/expiry.csv").text


def test_cli_policy_add_list_run_report_and_outbox(tmp_path: Path) -> None:
    data = tmp_path / "data"
    certvault_cli(data, "init")
    leaf = make_leaf(make_ca("CLI Notify CA"), "cli-soon.example.com", days=6)
    (tmp_path / "soon.pem").write_bytes(leaf.pem)
    certvault_cli(data, "cert", "import", str(tmp_path / "soon.pem"))
    certvault_cli(data, "notify", "channel", "add", "webhook", "cli-hook", "--url", "https://127.0.0.1:9/x")
    added = json.loads(certvault_cli(data, "notify", "policy", "add", "cli-weekly", "--kind", "expiry",
                                     "--within-days", "10", "--schedule", "weekly mon,thu 07:30", "--timezone",
                                     "Asia/Tokyo", "--channel", "cli-hook", "--json").stdout)
    assert (added["schedule"], added["timezone"], added["channels"]) == ("weekly mon,thu 07:30", "Asia/Tokyo",
                                                                         ["cli-hook"])
    listed = json.loads(certvault_cli(data, "notify", "policy", "list", "--json").stdout)
    assert [p["name"] for p in listed] == ["cli-weekly", "expiring-certificates"]
    bad = certvault_cli(data, "notify", "policy", "add", "x", "--schedule", "daily 25:00", check=False)
    assert bad.returncode == 1 and "hour 25" in bad.stderr
    changed = json.loads(certvault_cli(data, "notify", "policy", "set", "cli-weekly", "--schedule", "daily 06:00",
                                       "--tag", "nothing-has-this", "--json").stdout)
    assert (changed["schedule"], changed["filters"], changed["channels"]) == \
        ("daily 06:00", {"tags": ["nothing-has-this"]}, ["cli-hook"])
    assert json.loads(certvault_cli(data, "notify", "policy", "run", "cli-weekly", "--json").stdout
                      )["certificates"] == 0
    certvault_cli(data, "notify", "policy", "set", "cli-weekly", "--origin", "managed")
    run = json.loads(certvault_cli(data, "notify", "policy", "run", "cli-weekly", "--json").stdout)
    assert run["certificates"] == 1 and run["channels"] == ["cli-hook"]
    report = tmp_path / "expiry.csv"
    out = json.loads(certvault_cli(data, "notify", "report", "expiry", "--within-days", "30", "--csv", str(report),
                                   "--json").stdout)
    assert out["certificates"] == 1
    assert [r["common_name"] for r in csv.DictReader(io.StringIO(report.read_text()))] == ["cli-soon.example.com"]
    waiting = json.loads(certvault_cli(data, "notify", "outbox", "--json").stdout)
    assert [(m["channel"], m["status"]) for m in waiting] == [("cli-hook", "pending")]

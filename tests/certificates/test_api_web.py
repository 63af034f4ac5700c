"""The inventory through the REST API, the web pages and /metrics, as a user would use them."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient
from sqlalchemy import select

from certvault.audit.models import AuditEvent
from certvault.auth.rbac import Actor
from certvault.container import App
from tests.certificates.factory import make_leaf
from tests.certificates.tls_servers import start_s_server
from tests.conftest import create_login, csrf_of, web_login

ADMIN = Actor.system("test", via="cli")




def test_api_import_list_show_export_and_key(sqlite_app: App, sqlite_client: TestClient, test_ca) -> None:
    operator, auditor = create_login(sqlite_app, "operator"), create_login(sqlite_app, "auditor")
    leaf = make_leaf(test_ca, "api-import.example.com", ["api-import.example.com"], days=12)
    files = [("files", ("site.pem", leaf.pem + test_ca.pem + leaf.key_pem, "application/x-pem-file")),
             ("files", ("junk.bin", b"\x00\x01 nothing", "application/octet-stream"))]
    report = sqlite_client.post("/api/v1/certificates/import", files=files, data={"tags": "prod, web"},
                                headers=operator.headers).json()
    assert (report["imported"], report["failed"]) == (1, 1)
    assert report["files"][1]["error"].startswith("junk.bin: not a certificate file")
    entry_id = report["files"][0]["entry_ids"][0]
    listed = sqlite_client.get("/api/v1/certificates", params={"expiring_within": 30, "tag": "web"},
                               headers=auditor.headers).json()
    assert [i["id"] for i in listed["items"]] == [entry_id] and listed["items"][0]["days_left"] in (10, 11)
    shown = sqlite_client.get(f"/api/v1/certificates/{entry_id}", headers=auditor.headers).json()
    assert shown["names"] == ["api-import.example.com"] and shown["current"]["has_key"] is True
    assert len(shown["chain"]) == 1 and shown["tags"] == ["prod", "web"]
    denied = sqlite_client.post(f"/api/v1/certificates/{entry_id}/export", json={"format": "pem"},
                                headers=auditor.headers)
    assert denied.status_code == 403
    exported = sqlite_client.post(f"/api/v1/certificates/{entry_id}/export",
                                  json={"format": "pkcs12", "with_key": True, "password": "pw-123456"},
                                  headers=operator.headers)
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/x-pkcs12"
    assert 'filename="api-import.example.com.p12"' in exported.headers["content-disposition"]
    bad = sqlite_client.post(f"/api/v1/certificates/{entry_id}/export", json={"format": "jks"},
                             headers=operator.headers)
    assert bad.status_code == 400 and bad.json()["detail"] == "a password is needed to protect a JKS file"
    key = sqlite_client.get(f"/api/v1/certificates/{entry_id}/key", headers=operator.headers)
    assert key.status_code == 200 and key.content == leaf.key_pem
    patched = sqlite_client.patch(f"/api/v1/certificates/{entry_id}", json={"tags": ["payments"], "owner": "team-a"},
                                  headers=operator.headers).json()
    assert (patched["tags"], patched["owner"]) == (["payments"], "team-a")
    with sqlite_app.transaction() as svc:
        actions = [e.action for e in svc.session.scalars(select(AuditEvent).where(
            AuditEvent.target_id == entry_id).order_by(AuditEvent.seq))]
    assert actions == ["certificate.import", "certificate.export", "certificate.key_view", "certificate.update"]


def test_api_csr_and_summary(sqlite_app: App, sqlite_client: TestClient, test_ca) -> None:
    operator = create_login(sqlite_app, "operator")
    made = sqlite_client.post("/api/v1/certificates/csr", json={"common_name": "csr.example.com", "key": "ec384",
                                                                 "sans": ["csr.example.com"]}, headers=operator.headers)
    assert made.status_code == 201 and made.json()["csr_pem"].startswith("-----BEGIN CERTIFICATE REQUEST-----")
    assert made.json()["certificate"]["status"] == "pending"
    with sqlite_app.transaction() as svc:
        svc.certificates.import_data(ADMIN, make_leaf(test_ca, "soon.example.com", days=5).pem, "soon.pem")
        svc.certificates.import_data(ADMIN, make_leaf(test_ca, "gone.example.com", days=5, start_days_ago=9).pem,
                                     "gone.pem")
    summary = sqlite_client.get("/api/v1/certificates/summary", headers=operator.headers).json()
    assert (summary["total"], summary["expired"], summary["within_7"], summary["pending"]) == (2, 1, 1, 1)
    assert len(summary["weeks"]) == 12 and sum(w["count"] for w in summary["weeks"]) == 1


def test_api_discovery_runs_in_the_worker(sqlite_app: App, sqlite_client: TestClient, test_ca, tmp_path) -> None:
    leaf = make_leaf(test_ca, "worker.test", ["worker.test"])
    server = start_s_server(tmp_path, "w", leaf.pem, leaf.key_pem, test_ca.pem)
    try:
        operator = create_login(sqlite_app, "operator")
        queued = sqlite_client.post("/api/v1/certificates/discover", json={"targets": [f"127.0.0.1:{server.port}"],
                                                                           "sni": "worker.test"},
                                    headers=operator.headers)
        assert queued.status_code == 202 and queued.json()["targets"] == 1
        sqlite_app.worker().run_until_idle()
    finally:
        server.stop()
    endpoints = sqlite_client.get("/api/v1/certificates/endpoints", headers=operator.headers).json()
    assert [(e["ip"], e["port"], e["sni"]) for e in endpoints] == [("127.0.0.1", server.port, "worker.test")]
    shown = sqlite_client.get(f"/api/v1/certificates/{endpoints[0]['entry_id']}", headers=operator.headers).json()
    assert shown["common_name"] == "worker.test" and shown["managed"] is False
    bad = sqlite_client.post("/api/v1/certificates/discover", json={"cidr": ["300.1.1.1/24"]}, headers=operator.headers)
    assert bad.status_code == 400 and "is not a CIDR range" in bad.json()["detail"]


def test_metrics_expose_expiry_per_certificate(sqlite_app: App, sqlite_client: TestClient, test_ca) -> None:
    leaf = make_leaf(test_ca, "metrics.example.com", days=40)
    with sqlite_app.transaction() as svc:
        entry_id = svc.certificates.import_data(ADMIN, leaf.pem, "m.pem").entry_ids[0]
    admin = create_login(sqlite_app, "administrator")
    text = sqlite_client.get("/metrics", headers=admin.headers).text
    serial = format(leaf.cert.serial_number, "x")
    line = next(ln for ln in text.splitlines() if ln.startswith("certvault_certificate_expiration_timestamp_seconds{"))
    assert f'id="{entry_id}"' in line and 'common_name="metrics.example.com"' in line and f'serial="{serial}"' in line
    assert 'issuer="Inventory Test CA"' in line and 'source="import"' in line
    assert abs(float(line.rsplit(" ", 1)[1]) - leaf.cert.not_valid_after_utc.timestamp()) < 1
    assert 'certvault_certificates{managed="true",state="valid"} 1.0' in text
    assert time.time() < float(line.rsplit(" ", 1)[1])




def test_web_import_list_detail_export(sqlite_app: App, sqlite_client: TestClient, test_ca) -> None:
    web_login(sqlite_client, create_login(sqlite_app, "operator"))
    form = sqlite_client.get("/certificates/import")
    leaf = make_leaf(test_ca, "web.example.com", ["web.example.com", "www.web.example.com"], days=25)
    no_csrf = sqlite_client.post("/certificates/import", files={"files": ("w.pem", leaf.pem)})
    assert no_csrf.status_code == 403
    done = sqlite_client.post("/certificates/import", data={"csrf_token": csrf_of(form.text), "tags": "edge"},
                              files=[("files", ("w.pem", leaf.pem + test_ca.pem + leaf.key_pem)),
                                     ("files", ("bad.p12", b"0\x82\x01\x00broken"))])
    assert done.status_code == 400  # one refused file
    assert "1 file(s) imported, 1 refused" in done.text and "bad.p12: not a readable" in done.text
    listing = sqlite_client.get("/certificates", params={"name": "www.web.example.com", "state": "30"})
    assert "web.example.com" in listing.text and "edge" in listing.text
    entry_id = re.search(r'href="/certificates/([0-9a-f-]{36})"', listing.text).group(1)
    page = sqlite_client.get(f"/certificates/{entry_id}")
    assert "Inventory Test CA" in page.text and "private key stored" in page.text and "current" in page.text
    exported = sqlite_client.post(f"/certificates/{entry_id}/export",
                                  data={"csrf_token": csrf_of(page.text), "format": "jks", "with_key": "1",
                                        "with_chain": "1", "password": "pw-123456"})
    assert exported.status_code == 200 and exported.content[:4] == b"\xfe\xed\xfe\xed"
    refused = sqlite_client.post(f"/certificates/{entry_id}/export",
                                 data={"csrf_token": csrf_of(page.text), "format": "pkcs12"})
    assert refused.status_code == 400 and "a password is needed" in refused.text
    tagged = sqlite_client.post(f"/certificates/{entry_id}/update", data={"csrf_token": csrf_of(page.text),
                                                                          "tags": "a, b", "owner": "ops"})
    assert tagged.status_code == 200 and '<span class="tag">a</span>' in tagged.text
    dashboard = sqlite_client.get("/")
    assert 'data-count="30">1<' in dashboard.text and 'data-count="total">1<' in dashboard.text


def test_web_pages_respect_roles(sqlite_app: App, sqlite_client: TestClient) -> None:
    web_login(sqlite_client, create_login(sqlite_app, "auditor"))
    assert sqlite_client.get("/certificates").status_code == 200
    assert sqlite_client.get("/certificates/import", headers={"accept": "text/html"}).status_code == 403

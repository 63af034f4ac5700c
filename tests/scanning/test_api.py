"""The REST API of scanning: start a scan, follow the run, browse endpoints with filters and history,
events, schedules CRUD; permissions and audit."""

from __future__ import annotations

from fastapi.testclient import TestClient

from certvault.audit.service import AuditQuery
from certvault.auth.rbac import Actor
from certvault.container import App
from tests.conftest import create_login
from tests.scanning.tls import ScanCA, TlsServers


def test_scan_through_the_api_and_browse_the_results(
        sqlite_app: App, sqlite_client: TestClient, test_ca: ScanCA, tls_servers: TlsServers) -> None:
    operator = create_login(sqlite_app, "operator")
    auditor = create_login(sqlite_app, "auditor")
    good = tls_servers.serve(test_ca.issue(["good.test"], ["127.0.0.2"]), ip="127.0.0.2")
    legacy = tls_servers.serve(test_ca.issue(["old.test"], ["127.0.0.3"], days=12), ip="127.0.0.3", profile="legacy")
    closed = tls_servers.closed_port("127.0.0.4")
    body = {"hosts": [f"127.0.0.2:{good.port}", f"127.0.0.3:{legacy.port}", f"127.0.0.4:{closed}"],
            "ca_pem": test_ca.ca_pem, "batch_size": 2}

    assert sqlite_client.post("/api/v1/scans/runs", json=body, headers=auditor.headers).status_code == 403
    response = sqlite_client.post("/api/v1/scans/runs", json=body, headers=operator.headers)
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["status"] == "queued" and run["progress"] == 0.0 and run["requested_by"] == operator.username

    sqlite_app.worker().run_until_idle(timeout=120)
    run = sqlite_client.get(f"/api/v1/scans/runs/{run['id']}", headers=auditor.headers).json()
    assert (run["status"], run["done_targets"], run["total_targets"], run["failed_targets"]) == ("done", 3, 3, 1)
    assert (run["batches_done"], run["batches_total"], run["progress"]) == (2, 2, 1.0)
    runs = sqlite_client.get("/api/v1/scans/runs", headers=auditor.headers).json()
    assert runs["total"] == 1 and runs["items"][0]["id"] == run["id"]

    def endpoints(**params: object) -> list[str]:
        response = sqlite_client.get("/api/v1/scans/endpoints", params=params, headers=auditor.headers)
        assert response.status_code == 200, response.text
        return sorted(e["ip"] for e in response.json()["items"])

    assert endpoints() == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert endpoints(**{"vulnerable-to": "TLSv1.0"}) == ["127.0.0.3"]
    assert endpoints(**{"vulnerable-to": "anonymous_ciphers"}) == ["127.0.0.3"]
    assert endpoints(**{"vulnerable-to": "heartbleed"}) == []
    assert endpoints(expiring=30) == ["127.0.0.3"]
    assert endpoints(status="unreachable") == ["127.0.0.4"]
    grade = sqlite_client.get("/api/v1/scans/endpoints", params={"host": "127.0.0.2"},
                              headers=auditor.headers).json()["items"][0]["grade"]
    assert grade.startswith("A") and endpoints(grade=grade) == ["127.0.0.2"]
    assert endpoints(grade="F") == ["127.0.0.3"]
    worst_first = sqlite_client.get("/api/v1/scans/endpoints", params={"sort": "grade"}, headers=auditor.headers)
    assert [e["ip"] for e in worst_first.json()["items"]] == ["127.0.0.3", "127.0.0.2", "127.0.0.4"]
    bad = sqlite_client.get("/api/v1/scans/endpoints", params={"vulnerable-to": "gremlins"}, headers=auditor.headers)
    assert bad.status_code == 400 and "unknown finding 'gremlins'" in bad.json()["detail"]

    [old] = sqlite_client.get("/api/v1/scans/endpoints", params={"host": "127.0.0.3"},
                              headers=auditor.headers).json()["items"]
    detail = sqlite_client.get(f"/api/v1/scans/endpoints/{old['id']}", headers=auditor.headers).json()
    latest = detail["latest"]["result"]
    assert latest["protocols"]["TLSv1.0"] is True and latest["target"]["port"] == legacy.port
    assert set(latest) >= {"target", "protocols", "ciphers", "vulnerabilities", "certificate", "hsts", "grade",
                           "connections", "duration_ms", "errors"}
    assert len(detail["history"]) == 1 and detail["history"][0]["id"] == detail["latest"]["id"]
    assert {"weakness_found", "expiry_warning"} <= {e["type"] for e in detail["events"]}
    assert any(w["name"] == "TLS_DH_anon_WITH_AES_256_CBC_SHA" and "anonymous" in w["reasons"][0]
               for w in detail["weak_ciphers"])
    assert {"name": "protocol:TLSv1.0", "description": "legacy protocol TLSv1.0 offered"} in detail["finding_details"]
    weak = sqlite_client.get(f"/api/v1/scans/endpoints/{old['id']}/weak-ciphers", headers=auditor.headers).json()
    assert weak == detail["weak_ciphers"]
    events = sqlite_client.get("/api/v1/scans/events", params={"type": "unreachable"}, headers=auditor.headers)
    assert [e["details"]["ip"] for e in events.json()["items"]] == ["127.0.0.4"]

    metrics = sqlite_client.get("/metrics", headers=auditor.headers).text
    assert 'certvault_scan_endpoints{grade="F"} 1.0' in metrics
    assert 'certvault_scan_findings{finding="protocol:TLSv1.0"} 1.0' in metrics
    assert 'certvault_events_pending{consumer="notifications"} 0.0' in metrics  # the worker read the changes

    with sqlite_app.transaction() as svc:
        rows, _ = svc.audit.search(Actor.system(), AuditQuery(action="scan.start", limit=10))
    assert [(r.actor_name, r.details["host_count"]) for r in rows] == [(operator.username, 3)]


def test_bad_scan_requests_store_nothing(sqlite_app: App, sqlite_client: TestClient) -> None:
    operator = create_login(sqlite_app, "operator")
    for body, message in (({"hosts": ["not a host"]}, "not a host name"), ({"hosts": []}, "nothing to scan"),
                          ({"hosts": ["a.test"], "ports": [0]}, "port '0'"),
                          ({"hosts": ["a.test"], "extra": 1}, "extra")):
        response = sqlite_client.post("/api/v1/scans/runs", json=body, headers=operator.headers)
        assert response.status_code in (400, 422), response.text
        assert message in response.json()["detail"]
    assert sqlite_client.get("/api/v1/scans/runs", headers=operator.headers).json()["total"] == 0


def test_schedules_crud_through_the_api(sqlite_app: App, sqlite_client: TestClient) -> None:
    operator = create_login(sqlite_app, "operator")
    auditor = create_login(sqlite_app, "auditor")
    body = {"name": "weekly-edge", "frequency": "weekly", "weekday": "monday", "time": "01:30",
            "targets": {"hosts": ["192.0.2.0/29"], "ports": [443, 8443], "inventory": True}}
    assert sqlite_client.post("/api/v1/scans/schedules", json=body, headers=auditor.headers).status_code == 403
    created = sqlite_client.post("/api/v1/scans/schedules", json=body, headers=operator.headers)
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert (schedule["weekday"], schedule["time_of_day"], schedule["spec"]["ports"]) == (0, "01:30", [443, 8443])
    again = sqlite_client.post("/api/v1/scans/schedules", json=body, headers=operator.headers)
    assert again.status_code == 409
    bad = sqlite_client.post("/api/v1/scans/schedules", json={**body, "name": "b", "time": "7pm"},
                             headers=operator.headers)
    assert bad.status_code == 400 and "HH:MM" in bad.json()["detail"]

    listed = sqlite_client.get("/api/v1/scans/schedules", headers=auditor.headers).json()
    assert [s["name"] for s in listed] == ["weekly-edge"]
    patched = sqlite_client.patch(f"/api/v1/scans/schedules/{schedule['id']}", json={"enabled": False},
                                  headers=operator.headers)
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    got = sqlite_client.get(f"/api/v1/scans/schedules/{schedule['id']}", headers=auditor.headers).json()
    assert got["enabled"] is False and got["frequency"] == "weekly"
    deleted = sqlite_client.delete(f"/api/v1/scans/schedules/{schedule['id']}", headers=operator.headers)
    assert deleted.status_code == 204
    assert sqlite_client.get(f"/api/v1/scans/schedules/{schedule['id']}", headers=auditor.headers).status_code == 404


def test_hostile_input_is_a_clear_400_not_a_server_error(sqlite_app: App, sqlite_client: TestClient) -> None:
    operator = create_login(sqlite_app, "operator")
    cases = [
        ("post", "/api/v1/scans/runs", {"json": {"hosts": ["a.test"], "sni": "bad\x00name"}}, "sni"),
        ("post", "/api/v1/scans/runs", {"json": {"hosts": ["a\x00.test"]}}, "not a host name"),
        ("post", "/api/v1/scans/runs", {"json": {"hosts": ["a.test"], "ca_pem": "-----BEGIN CERTIFICATE-----\x00"}},
         "ca_pem"),
        ("post", "/api/v1/scans/runs", {"json": {"hosts": ["a.test"], "ports": [-5]}}, "port"),
        ("get", "/api/v1/scans/endpoints", {"params": {"host": "x\x00"}}, "host: contains a control character"),
        ("get", "/api/v1/scans/endpoints", {"params": {"sort": "nonsense"}}, "sort"),
        ("get", "/api/v1/scans/runs", {"params": {"status": "x\x00"}}, "status"),
        ("get", "/api/v1/scans/events", {"params": {"type": "boom"}}, "type"),
        ("post", "/api/v1/scans/schedules", {"json": {"name": "n\x00", "frequency": "daily", "time": "01:00",
                                                      "targets": {"hosts": ["a.test"]}}}, "control character"),
    ]
    for method, path, kwargs, message in cases:
        response = getattr(sqlite_client, method)(path, headers=operator.headers, **kwargs)
        assert response.status_code == 400, (path, kwargs, response.text)
        assert message in response.json()["detail"]

"""The browser flow: login form, forced password change, CSRF on forms, logout."""

from __future__ import annotations

from fastapi.testclient import TestClient

from certvault.container import App
from tests.conftest import csrf_of, submit_login_form


def test_first_admin_logs_in_changes_password_and_sees_dashboard(sqlite_app: App, sqlite_client: TestClient) -> None:
    with sqlite_app.transaction() as svc:
        password = svc.auth.bootstrap_admin()
    assert password
    page = sqlite_client.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/"
    wrong = submit_login_form(sqlite_client, "admin", "bad")
    assert wrong.status_code == 401 and "invalid username or password" in wrong.text
    ok = submit_login_form(sqlite_client, "admin", password)
    assert ok.status_code == 303 and ok.headers["location"] == "/account/password"
    forced = sqlite_client.get("/", follow_redirects=False)
    assert forced.status_code == 303 and forced.headers["location"].endswith("/account/password")
    form = sqlite_client.get("/account/password")
    no_csrf = sqlite_client.post("/account/password", data={"current_password": password,
                                                             "new_password": "Brand-new-pass-1"})
    assert no_csrf.status_code == 403
    changed = sqlite_client.post("/account/password", follow_redirects=False, data={
        "csrf_token": csrf_of(form.text), "current_password": password, "new_password": "Brand-new-pass-1"})
    assert changed.status_code == 303 and changed.headers["location"] == "/?done=password"
    dashboard = sqlite_client.get("/?done=password")
    assert dashboard.status_code == 200 and "Dashboard" in dashboard.text and "admin" in dashboard.text
    assert "Your password was changed." in dashboard.text
    logout = sqlite_client.post("/logout", data={"csrf_token": csrf_of(dashboard.text)}, follow_redirects=False)
    assert logout.status_code == 303
    assert sqlite_client.get("/", follow_redirects=False).status_code == 303


def test_open_redirects_are_refused(sqlite_app: App, sqlite_client: TestClient) -> None:
    with sqlite_app.transaction() as svc:
        svc.auth.create_user(__import__("certvault.auth.rbac", fromlist=["Actor"]).Actor.system(), "erin", "user",
                             password="Erin-pass-123")
    response = submit_login_form(sqlite_client, "erin", "Erin-pass-123", "//evil.example/")
    assert response.status_code == 303 and response.headers["location"] == "/"

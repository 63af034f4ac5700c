"""The login form refuses a cross-site post (login CSRF, issue 11 item 12).

Before: any site could post the form and log the victim's browser into an account of the attacker's
choosing. Now the post needs the login token the form page set (a `__Host-` cookie plus the hidden field),
and an Origin or Referer naming another site is refused outright.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from certvault.container import App
from certvault.web.login_form import COOKIE
from tests.conftest import Login, create_login, csrf_of


def _attack(client: TestClient, login: Login, **headers: str) -> object:
    return client.post("/login", data={"username": login.username, "password": login.password, "next": "/"},
                       headers=headers, follow_redirects=False)


def _refused(answer: object, client: TestClient) -> None:
    assert answer.status_code == 403, answer.text  # type: ignore[attr-defined]
    assert "cv_session" not in answer.headers.get("set-cookie", "")  # type: ignore[attr-defined]
    assert client.get("/", follow_redirects=False).status_code == 303  # still logged out


def test_a_cross_site_login_post_is_refused(sqlite_app: App, sqlite_client: TestClient) -> None:
    login = create_login(sqlite_app, "user")
    # The attacker's page posts the form: no login cookie, no token (whatever Origin the browser sends).
    _refused(_attack(sqlite_client, login), sqlite_client)
    _refused(_attack(sqlite_client, login, origin="null"), sqlite_client)
    # Even with a token of its own in the field, it cannot set our __Host- cookie to match.
    forged = sqlite_client.post("/login", data={"username": login.username, "password": login.password,
                                                "csrf_token": "A" * 43}, follow_redirects=False)
    _refused(forged, sqlite_client)
    # A victim who opened our login page earlier has the cookie; the attacker's post still lacks the token,
    # and one from another origin is refused even with it.
    token = csrf_of(sqlite_client.get("/login").text)
    _refused(_attack(sqlite_client, login, origin="https://evil.example"), sqlite_client)
    with_token = {"username": login.username, "password": login.password, "csrf_token": token}
    for headers in ({"origin": "https://evil.example"}, {"referer": "https://evil.example/login"}):
        answer = sqlite_client.post("/login", data=with_token, headers=headers, follow_redirects=False)
        _refused(answer, sqlite_client)
        assert "only from this site" in answer.text


def test_the_browser_flow_still_logs_in(sqlite_app: App, sqlite_client: TestClient) -> None:
    login = create_login(sqlite_app, "user")
    page = sqlite_client.get("/login")
    set_cookie = page.headers["set-cookie"]
    assert set_cookie.startswith(f"{COOKIE}=") and "secure" in set_cookie.lower()
    assert "samesite=strict" in set_cookie.lower() and "httponly" in set_cookie.lower()
    token = csrf_of(page.text)
    assert sqlite_client.cookies.get(COOKIE) == token
    # Browsers post our own form with Origin: null (Referrer-Policy: no-referrer) or our own origin.
    wrong = sqlite_client.post("/login", data={"username": login.username, "password": "nope", "csrf_token": token},
                               headers={"origin": "null"})
    assert wrong.status_code == 401 and csrf_of(wrong.text) == token  # the form again, ready to retry
    ok = sqlite_client.post("/login", data={"username": login.username, "password": login.password,
                                            "csrf_token": token, "next": "/"},
                            headers={"origin": "https://testserver"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    assert sqlite_client.get("/", follow_redirects=False).status_code == 200
    assert sqlite_client.cookies.get(COOKIE) is None  # used up at login


def test_an_expired_form_can_be_sent_again(sqlite_app: App, sqlite_client: TestClient) -> None:
    login = create_login(sqlite_app, "user")
    stale = sqlite_client.post("/login", data={"username": login.username, "password": login.password,
                                               "csrf_token": "stale"}, follow_redirects=False)
    assert stale.status_code == 403 and "log in again" in stale.text
    retried = sqlite_client.post("/login", data={"username": login.username, "password": login.password,
                                                 "csrf_token": csrf_of(stale.text)}, follow_redirects=False)
    assert retried.status_code == 303  # the refusal's own form carries a valid token

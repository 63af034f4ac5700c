"""What an anonymous caller can put into the audit log is bounded (issue 11, item 1).

Before: a failed login stored the typed username whole (100 MB through any login edge), and the audit API
answered 100 MB. Now every string of a row is cut with a marker and its control characters escaped, in the
audit service itself, so no route can forget it.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from certvault.audit.service import AuditLog, bound_details
from certvault.auth.rbac import Actor, Role
from certvault.container import App
from certvault.safe_text import bounded, escape_controls
from tests.conftest import create_login, csrf_of

UNDER_LIMIT = 1_000_000  # characters: the request stays under the 1 MiB body limit


def _failed_logins(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    answer = client.get("/api/v1/audit", params={"action": "auth.login", "limit": 5}, headers=headers)
    assert answer.status_code == 200
    assert len(answer.content) < 20_000  # was 102 MB for five rows
    return [e for e in answer.json()["items"] if e["outcome"] != "success"]


def _assert_bounded(name: str, typed: str) -> None:
    assert len(name) <= 255 and name != typed
    assert name.startswith(escape_controls(typed[:100])) and "…[truncated " in name and name.endswith(" chars]")
    assert "\r" not in name and "\n" not in name


def test_a_failed_login_with_a_huge_username_stores_a_bounded_row(app: App, client: TestClient) -> None:
    admin = create_login(app, "administrator")
    typed = "\r\n\u202eadmin" + "u" * UNDER_LIMIT
    answer = client.post("/api/v1/auth/login", json={"username": typed, "password": "wrong"})
    assert answer.status_code == 401 and len(answer.content) < 1000
    rows = _failed_logins(client, admin.headers)
    assert len(rows) == 1
    _assert_bounded(rows[0]["actor_name"], typed)
    assert rows[0]["actor_name"].startswith("\\r\\n\\u202eadmin")
    with app.transaction() as svc:
        assert svc.audit.verify().ok


def test_every_login_edge_stores_a_bounded_name(app: App, client: TestClient) -> None:
    admin = create_login(app, "administrator")
    typed = "x" * UNDER_LIMIT
    token = csrf_of(client.get("/login").text)
    web = client.post("/login", data={"username": typed, "password": "wrong", "csrf_token": token})
    assert web.status_code == 401 and len(web.content) < 2 * UNDER_LIMIT  # the form shows back what was typed
    oauth = client.post("/secretserver/oauth2/token", data={"grant_type": "password", "username": typed,
                                                            "password": "wrong"})
    assert oauth.status_code == 400 and len(oauth.content) < 1000
    rows = _failed_logins(client, admin.headers)
    assert len(rows) == 2
    for row in rows:
        _assert_bounded(row["actor_name"], typed)
        kept, _, marker = row["actor_name"].partition("…[truncated ")
        assert len(kept) + int(marker.removesuffix(" chars]").replace(",", "")) == len(typed)


def test_every_string_of_a_row_is_bounded_where_it_is_recorded(app: App) -> None:
    actor = Actor(name="n\x00" * 1000, role=Role.USER, ip="10.0.0.1")
    with app.transaction() as svc:
        event = svc.audit.record(actor, "test.bounded", target_type="thing", target_id="t" * 10_000,
                                 details={"note": "d\n" * 10_000, "items": list(range(1000)),
                                          "k" * 1000: {"deep": ["x" * 5000]}})
    assert event is not None
    assert len(event.actor_name) <= 255 and event.actor_name.startswith("n\\x00n\\x00")
    assert len(event.target_id or "") <= 255
    details = event.details
    assert len(details["note"]) <= 1024 and details["note"].startswith("d\\nd\\n")
    assert details["items"][:3] == [0, 1, 2] and details["items"][-1] == "…[800 more]" and len(details["items"]) == 201
    (long_key,) = (k for k in details if k.startswith("kkk"))
    assert len(long_key) <= 255 and len(details[long_key]["deep"][0]) <= 1024
    with app.transaction() as svc:
        assert svc.audit.verify().ok


def test_bounded_text() -> None:
    assert bounded("alice", 255) == "alice"  # ordinary names are stored as they are
    assert bounded("DOMAIN\\svc-scan", 255) == "DOMAIN\\svc-scan"
    assert bounded("a\tb\x1b[31m\u2028", 255) == "a\\tb\\x1b[31m\\u2028"
    cut = bounded("a" * 100_000_000, 256)
    assert len(cut) <= 256 and cut.endswith("…[truncated 99,999,774 chars]") and cut.startswith("a" * 200)
    assert bounded("é" * 300, 40) == "é" * 18 + "…[truncated 282 chars]"
    assert bound_details({"n": 1, "ok": True, "none": None}) == {"n": 1, "ok": True, "none": None}
    assert AuditLog.event_row(Actor.system("x" * 300), "a")["actor_name"].endswith("…[truncated 67 chars]")

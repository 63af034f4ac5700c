"""The audit log's pages by cursor: newest first, each row exactly once forwards and backwards, with a filter,
counted up to a cap; numbered links lead where they say; a damaged cursor is refused."""

from __future__ import annotations

from typing import Any

import pytest

from certvault.audit.service import AuditPage, AuditQuery
from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.errors import InvalidInput
from tests.conftest import api_client, create_login

ADMIN = Actor.system("test", via="cli")


def _page(app: App, **query: Any) -> AuditPage:
    with app.transaction() as svc:
        page = svc.audit.page(ADMIN, AuditQuery(limit=15, **query))
        page.items = [e.seq for e in page.items]  # type: ignore[misc]
        return page


def test_audit_pages_walk_both_ways_once_each(app: App) -> None:
    with app.transaction() as svc:
        for i in range(100):
            svc.audit.record(Actor.system("pages"), f"test.pages.{'even' if i % 2 == 0 else 'odd'}",
                             details={"n": i})
    for action, cap in (("test.pages.", None), ("test.pages.even", None), ("test.pages.", 40)):
        with app.transaction() as svc:
            expected = [e.seq for e in svc.audit.search(ADMIN, AuditQuery(action=action, limit=500))[0]]
        pages = [_page(app, action=action, count_cap=cap)]
        while pages[-1].has_next:
            pages.append(_page(app, action=action, count_cap=cap, cursor=pages[-1].next_cursor))
        assert [s for p in pages for s in p.items] == expected and expected == sorted(expected, reverse=True)
        assert pages[0].total == (min(cap, len(expected)) if cap else len(expected))
        assert pages[0].total_capped == (cap is not None and len(expected) > cap)
        for page in pages:
            for number, cursor in page.near:
                target = _page(app, action=action, count_cap=cap, cursor=cursor) if cursor else pages[0]
                assert number is not None and target.items == pages[number - 1].items
        back = [_page(app, action=action, count_cap=cap, cursor=pages[0].last_cursor)]
        while back[-1].has_prev:
            cursor = back[-1].prev_cursor
            back.append(_page(app, action=action, count_cap=cap, cursor=cursor) if cursor else pages[0])
        assert [s for p in reversed(back) for s in p.items] == expected
    with pytest.raises(InvalidInput, match="damaged or out of date"):
        _page(app, cursor="WyJuZXdlc3QiLCJhIiwxLFsieCJdXQ")  # ["newest","a",1,["x"]]: a text sequence number


def test_the_api_walks_the_log_by_cursor_and_bounds_the_offset(app: App) -> None:
    """GET /api/v1/audit: next_cursor leads through every matching event once, newest first; offsets stop at
    1,000 (deeper pages are index seeks by cursor, never a long OFFSET)."""
    with app.transaction() as svc:
        for i in range(60):
            svc.audit.record(Actor.system("api-pages"), "test.apipages", details={"n": i})
    auditor = create_login(app, "auditor")
    with app.transaction() as svc:
        expected = [e.seq for e in svc.audit.search(ADMIN, AuditQuery(action="test.apipages", limit=500))[0]]
    seen: list[int] = []
    with api_client(app) as client:
        params: dict[str, Any] = {"action": "test.apipages", "limit": 25}
        while True:
            body = client.get("/api/v1/audit", params=params, headers=auditor.headers).json()
            seen += [event["seq"] for event in body["items"]]
            assert body["total"] == 60
            if body["next_cursor"] is None:
                break
            params["cursor"] = body["next_cursor"]
        assert seen == expected and len(seen) == 60
        assert client.get("/api/v1/audit", params={"offset": 1001}, headers=auditor.headers).status_code == 422
        short = client.get("/api/v1/audit", params={"action": "test.apipages", "offset": 50}, headers=auditor.headers)
        assert [e["seq"] for e in short.json()["items"]] == expected[50:]

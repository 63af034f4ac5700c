"""The audit log's pages by cursor: newest first, each row exactly once forwards and backwards, with a filter,
counted up to a cap; numbered links lead where they say; a damaged cursor is refused."""

from __future__ import annotations

from typing import Any

import pytest

from certvault.audit.service import AuditPage, AuditQuery
from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.errors import InvalidInput

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

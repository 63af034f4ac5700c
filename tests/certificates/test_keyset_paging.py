"""Keyset paging of the inventory: for every sort, walking the pages forwards (next) and backwards (previous,
from the last page) yields each entry exactly once, in order, with many equal sort keys and entries without
an expiry; numbered pages near the current one lead where they say; a damaged cursor is a clear error in the
service, the web page and the API, never a 500."""

from __future__ import annotations

import base64
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from certvault.auth.rbac import Actor
from certvault.certificates.models import CertificateEntry
from certvault.certificates.search import SORTS, CertificateQuery, Page
from certvault.container import App
from certvault.errors import InvalidInput
from tests.conftest import create_login, web_login

ADMIN = Actor.system("test", via="cli")
COUNT, SIZE = 230, 25
BASE = datetime(2027, 1, 1, tzinfo=UTC)


def _seed(app: App) -> list[dict[str, Any]]:
    rng = random.Random(16)
    rows = []
    for i in range(COUNT):
        rows.append({
            "id": uuid.UUID(int=rng.getrandbits(128)), "status": "pending" if i % 17 == 0 else "active",
            "common_name": f"n{rng.randrange(40):03d}",  # many equal names
            "names_key": f"{i:040x}", "issuer_cn": "Keyset CA", "key_algorithm": "EC", "key_size": 256,
            "not_after": None if i % 17 == 0 else BASE + timedelta(days=rng.randrange(30)),  # equal days, NULLs
            "managed": i % 3 != 0, "source": "import",
            "created_at": BASE - timedelta(hours=rng.randrange(20)), "updated_at": BASE,
        })
    with app.transaction() as svc:
        svc.session.execute(CertificateEntry.__table__.insert(), rows)  # type: ignore[attr-defined]
    return rows


def _expected(rows: list[dict[str, Any]], sort: str) -> list[uuid.UUID]:
    """The order each sort promises: its column, then the id; no expiry after every date (before, reversed)."""
    column = {"expiry": "not_after", "name": "common_name", "created": "created_at"}[sort.lstrip("-")]

    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        value = row[column]
        return (value is None, value or BASE, row["id"].hex)

    return [r["id"] for r in sorted(rows, key=key, reverse=sort.startswith("-"))]


def _page(app: App, **query: Any) -> Page:
    with app.transaction() as svc:
        page = svc.certificates.search(ADMIN, CertificateQuery(limit=SIZE, **query))
        page.items = [e.id for e in page.items]  # type: ignore[misc]  # ids outlive the session
        return page


@pytest.fixture
def seeded(app: App) -> tuple[App, list[dict[str, Any]]]:
    return app, _seed(app)


@pytest.mark.parametrize("sort", SORTS)
def test_every_sort_walks_forwards_and_backwards_once_each(seeded: tuple[App, list[dict[str, Any]]],
                                                           sort: str) -> None:
    app, rows = seeded
    for managed, subset in ((None, rows), (True, [r for r in rows if r["managed"]])):
        expected = _expected(subset, sort)
        pages: list[Page] = [_page(app, sort=sort, managed=managed)]
        while pages[-1].has_next:
            pages.append(_page(app, sort=sort, managed=managed, cursor=pages[-1].next_cursor))
        assert [i for p in pages for i in p.items] == expected
        assert [p.number for p in pages] == list(range(1, len(pages) + 1)) and not pages[0].has_prev
        for number, page in enumerate(pages, 1):  # the numbered links around each page lead to those pages
            for linked, cursor in page.near:
                assert linked is not None
                target = _page(app, sort=sort, managed=managed, cursor=cursor) if cursor else pages[0]
                assert target.number == linked and target.items == pages[linked - 1].items, (number, linked)
        back = [_page(app, sort=sort, managed=managed, cursor=pages[0].last_cursor)]
        assert back[0].items == pages[-1].items and back[0].number == len(pages)  # the last page lines up
        while back[-1].has_prev:
            back.append(_page(app, sort=sort, managed=managed, cursor=back[-1].before_cursor))
        assert [i for p in reversed(back) for i in p.items] == expected
        assert [p.number for p in back] == list(range(len(pages), 0, -1))


def test_equal_keys_across_a_page_edge_and_the_null_segment(seeded: tuple[App, list[dict[str, Any]]]) -> None:
    app, rows = seeded
    undated = [r["id"] for r in rows if r["not_after"] is None]
    expected = _expected(rows, "expiry")
    assert expected[-len(undated):] == sorted(undated, key=lambda i: i.hex)  # no expiry: last, by id
    reversed_order = _expected(rows, "-expiry")
    assert reversed_order[:len(undated)] == sorted(undated, key=lambda i: i.hex, reverse=True)
    first = _page(app, sort="-expiry")
    assert len(undated) == 14 and first.items == reversed_order[:SIZE]  # the NULL segment ends inside page 1
    second = _page(app, sort="-expiry", cursor=first.next_cursor)
    assert second.items == reversed_order[SIZE:2 * SIZE]


def _tamper(token: str, change: Any) -> str:
    raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    change(raw)
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def test_a_damaged_cursor_is_a_clear_error(seeded: tuple[App, list[dict[str, Any]]]) -> None:
    app, _ = seeded
    token = _page(app, sort="expiry").next_cursor
    assert token
    damaged = [
        token[:-3], token[:10] + "!!" + token[12:], "x" * 2000, "bm90IGpzb24",
        _tamper(token, lambda r: r[3].__setitem__(0, "not a date")),
        _tamper(token, lambda r: r[3].__setitem__(1, "zz")),
        _tamper(token, lambda r: r[3].append(1)),
        _tamper(token, lambda r: r.__setitem__(1, "sideways")),
        _tamper(token, lambda r: r.__setitem__(2, -4)),
        _tamper(token, lambda r: r[3].__setitem__(0, "2027-01-01T00:00:00")),  # no time zone
        _tamper(token, lambda r: r[3].__setitem__(0, [[[[]]]])),
    ]
    name_token = _page(app, sort="name").next_cursor
    assert name_token
    damaged.append(_tamper(name_token, lambda r: r[3].__setitem__(0, "a\x00b")))  # PostgreSQL refuses NUL
    for bad in damaged:
        with pytest.raises(InvalidInput, match="damaged or out of date"):
            _page(app, sort="name" if bad == damaged[-1] else "expiry", cursor=bad)
    with pytest.raises(InvalidInput, match="another sort order"):
        _page(app, sort="name", cursor=token)
    with pytest.raises(InvalidInput, match="offset must be between 0 and 1,000"):
        _page(app, offset=5000)


def test_web_and_api_answer_400_for_a_damaged_cursor(sqlite_app: App, sqlite_client: TestClient) -> None:
    _seed(sqlite_app)
    web_login(sqlite_client, create_login(sqlite_app, "auditor"))
    page = sqlite_client.get("/certificates?sort=name&cursor=eyJub3QiOiJhIGxpc3QifQ&size=25")
    assert page.status_code == 400 and "damaged or out of date" in page.text and "<html" in page.text.lower()
    answer = sqlite_client.get("/api/v1/certificates?sort=name&cursor=AAAA", headers={"accept": "application/json"})
    assert answer.status_code == 400 and "damaged" in answer.text
    first = sqlite_client.get("/api/v1/certificates?sort=name&limit=100").json()
    second = sqlite_client.get(f"/api/v1/certificates?sort=name&limit=100&cursor={first['next_cursor']}").json()
    back = sqlite_client.get(f"/api/v1/certificates?sort=name&limit=100&cursor={second['prev_cursor']}").json()
    assert first["prev_cursor"] is None and len(second["items"]) == 100 and back["items"] == first["items"]
    assert {i["id"] for i in first["items"]}.isdisjoint({i["id"] for i in second["items"]})

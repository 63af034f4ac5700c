"""Keyset paging of the endpoint list: for every sort, walking the pages forwards (next) and backwards (from the
last page) yields each endpoint exactly once, in order, with equal hosts and grades and endpoints never scanned
or without a certificate; the grade order (worst first, never graded last) is kept with the grade."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.errors import InvalidInput
from certvault.scanning.models import GRADE_ORDER, ScanEndpoint, grade_rank
from certvault.scanning.queries import KEYSETS, EndpointPage, EndpointQuery
from tests.conftest import api_client, create_login

ADMIN = Actor.system("test", via="cli")
COUNT, SIZE = 180, 20
BASE = datetime(2027, 1, 1, tzinfo=UTC)


def _seed(app: App) -> list[dict[str, Any]]:
    rng = random.Random(5)
    rows = []
    for i in range(COUNT):
        grade = rng.choice([*GRADE_ORDER[:5], "T", None])
        rows.append({
            "id": uuid.UUID(int=rng.getrandbits(128)), "host": f"h{rng.randrange(25):02d}", "ip": f"10.0.0.{i}",
            "port": rng.choice([443, 8443]), "sni_key": "", "status": "ok", "grade": grade,
            "grade_rank": grade_rank(grade), "protocols": [], "findings": [], "weak_cipher_count": 0,
            "cert_not_after": None if i % 9 == 0 else BASE + timedelta(days=rng.randrange(12)),
            "last_scanned_at": None if i % 11 == 0 else BASE - timedelta(hours=rng.randrange(8)),
            "first_seen_at": BASE, "created_at": BASE, "updated_at": BASE,
        })
    with app.transaction() as svc:
        svc.session.execute(ScanEndpoint.__table__.insert(), rows)  # type: ignore[attr-defined]
    return rows


def _expected(rows: list[dict[str, Any]], sort: str) -> list[uuid.UUID]:
    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        if sort == "host":
            return (r["host"], r["port"], r["ip"], r["id"].hex)
        if sort == "grade":
            return (r["grade_rank"], r["host"], r["id"].hex)
        if sort == "expiry":
            return (r["cert_not_after"] is None, r["cert_not_after"] or BASE, r["host"], r["id"].hex)
        # latest scan first, never scanned last: the reverse of (scanned, later) with NULL smallest
        return (r["last_scanned_at"] is not None, r["last_scanned_at"] or BASE, r["host"], r["id"].hex)

    ordered = sorted(rows, key=key, reverse=sort == "scanned")
    return [r["id"] for r in ordered]


def _page(app: App, **query: Any) -> EndpointPage:
    with app.transaction() as svc:
        page = svc.scanning.endpoint_page(ADMIN, EndpointQuery(limit=SIZE, **query))
        page.items = [e.id for e in page.items]  # type: ignore[misc]
        return page


@pytest.mark.parametrize("sort", list(KEYSETS))
def test_every_endpoint_sort_walks_forwards_and_backwards_once_each(app: App, sort: str) -> None:
    rows = _seed(app)
    for grade, subset in ((None, rows), ("A", [r for r in rows if r["grade"] == "A"])):
        expected = _expected(subset, sort)
        pages = [_page(app, sort=sort, grade=grade)]
        while pages[-1].has_next:
            pages.append(_page(app, sort=sort, grade=grade, cursor=pages[-1].next_cursor))
        assert [i for p in pages for i in p.items] == expected
        assert pages[0].total == len(subset) and [p.number for p in pages] == list(range(1, len(pages) + 1))
        if len(pages) == 1:
            continue
        back = [_page(app, sort=sort, grade=grade, cursor=pages[0].last_cursor)]
        while back[-1].has_prev:
            cursor = back[-1].prev_cursor
            back.append(_page(app, sort=sort, grade=grade, cursor=cursor) if cursor else pages[0])
        assert [i for p in reversed(back) for i in p.items] == expected


def test_grade_rank_follows_the_grade_and_a_bad_cursor_is_refused(app: App) -> None:
    with app.transaction() as svc:
        endpoint = ScanEndpoint(host="rank.example", ip="10.1.1.1", port=443, sni_key="", grade="A+")
        svc.session.add(endpoint)
        svc.session.flush()
        assert endpoint.grade_rank == len(GRADE_ORDER) - 1
        endpoint.grade = "T"
        assert endpoint.grade_rank == 0
        endpoint.grade = None
        assert endpoint.grade_rank == len(GRADE_ORDER)
    with pytest.raises(InvalidInput, match="damaged or out of date"):
        _page(app, sort="grade", cursor="eyJ4IjoxfQ")


def test_the_api_walks_the_endpoint_list_by_cursor_and_bounds_the_offset(app: App) -> None:
    """GET /api/v1/scans/endpoints: next_cursor leads through every endpoint once, in the sort's order; a deep
    offset is refused (each page is an index seek, never a long OFFSET)."""
    rows = _seed(app)
    auditor = create_login(app, "auditor")
    seen: list[str] = []
    with api_client(app) as client:
        params: dict[str, Any] = {"sort": "grade", "limit": SIZE}
        while True:
            page = client.get("/api/v1/scans/endpoints", params=params, headers=auditor.headers)
            assert page.status_code == 200, page.text
            body = page.json()
            seen += [item["id"] for item in body["items"]]
            assert body["total"] == COUNT and body["total_capped"] is False
            if body["next_cursor"] is None:
                break
            params["cursor"] = body["next_cursor"]
        assert seen == [str(i) for i in _expected(rows, "grade")]
        back = client.get("/api/v1/scans/endpoints", params={"sort": "grade", "limit": SIZE,
                                                             "cursor": body["prev_cursor"]}, headers=auditor.headers)
        assert [i["id"] for i in back.json()["items"]] == seen[-2 * SIZE:-SIZE]
        deep = client.get("/api/v1/scans/endpoints", params={"offset": 5000}, headers=auditor.headers)
        assert deep.status_code == 422 and "offset" in deep.text and "1000" in deep.text
        damaged = client.get("/api/v1/scans/endpoints", params={"cursor": "eyJ4IjoxfQ"}, headers=auditor.headers)
        assert damaged.status_code == 400 and "damaged or out of date" in damaged.text

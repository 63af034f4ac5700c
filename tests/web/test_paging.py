"""The pager of a list paged by cursor: which links a deep page of a capped list shows, and what it says."""

from __future__ import annotations

from types import SimpleNamespace

from certvault.web.paging import pager


def test_a_deep_page_links_first_neighbours_last_and_says_where_it_is() -> None:
    page = SimpleNamespace(items=[object()] * 50, total=10_000, total_capped=True, number=5000, has_prev=True,
                           has_next=True, prev_cursor="p1", next_cursor="n1", last_cursor="last",
                           near=[(4998, "p2"), (4999, "p1"), (5001, "n1"), (5002, "n2")])
    out = pager(page, 50, "certificates")
    assert out.summary == "249,951–250,000 of 250,000+ certificates"
    assert [(link.label, link.cursor) for link in out.links if not link.gap] == [
        ("‹ Previous", "p1"), ("1", None), ("4,998", "p2"), ("4,999", "p1"), ("5,000", None), ("5,001", "n1"),
        ("5,002", "n2"), ("Last", "last"), ("Next ›", "n1")]
    assert [link.aria for link in out.links if link.current] == ["Page 5000"]


def test_a_short_list_has_no_links_and_a_known_last_page_is_numbered() -> None:
    alone = SimpleNamespace(items=[object()] * 3, total=3, total_capped=False, number=1, has_prev=False,
                            has_next=False, prev_cursor=None, next_cursor=None, last_cursor=None, near=[])
    assert pager(alone, 25, "rows").links == [] and pager(alone, 25, "rows").summary == "1–3 of 3 rows"
    first = SimpleNamespace(items=[object()] * 25, total=200, total_capped=False, number=1, has_prev=False,
                            has_next=True, prev_cursor=None, next_cursor="n1", last_cursor="last",
                            near=[(2, "n1"), (3, "n2")])
    labels = [(link.label, link.aria) for link in pager(first, 25, "rows").links]
    assert labels[-2:] == [("8", "Page 8 (last)"), ("Next ›", "Next page")] and ("…", "") in labels

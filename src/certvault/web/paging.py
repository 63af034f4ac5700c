"""The links of a table that pages by cursor (db/keyset.py): previous and next, numbered pages near this one,
the first and the last page. Each link is a cursor token (None: the first page) that the template puts in the
URL next to the filters; no link leads to an OFFSET."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Link:
    label: str
    cursor: str | None  # None: the first page
    aria: str
    rel: str = ""
    current: bool = False
    gap: bool = False


@dataclass
class Pager:
    summary: str  # "251–300 of 10,000+ certificates"
    size: int
    links: list[Link] = field(default_factory=list)


def _count(total: int, capped: bool) -> str:
    return f"{total:,}{'+' if capped else ''}"


def pager(page: Any, size: int, label: str) -> Pager:
    """`page`: a result with items, total, total_capped, number, near, has_prev/has_next, prev/next/last cursors."""
    shown, number = len(page.items), page.number
    if number is not None and shown:
        start = (number - 1) * size + 1
        end = start + shown - 1  # past the capped count on a deep page: "of 250,000+" (at least that many)
        summary = f"{start:,}–{end:,} of {_count(max(page.total, end), page.total_capped)} {label}"
    else:
        summary = f"{shown:,} of {_count(page.total, page.total_capped)} {label}" if shown else f"0 {label}"
    out = Pager(summary, size)
    if page.has_prev:
        out.links.append(Link("‹ Previous", page.prev_cursor, "Previous page", rel="prev"))
    near_numbers = [n for n, _ in page.near]
    if page.has_prev and 1 not in near_numbers:
        out.links += [Link("1", None, "Page 1"), Link("…", None, "", gap=True)]
    before = [(n, c) for n, c in page.near if number is None or n is None or n < number]
    after = [(n, c) for n, c in page.near if (n, c) not in before]
    for n, cursor in before:
        out.links.append(Link(f"{n:,}" if n else "·", cursor, f"Page {n}" if n else "An earlier page"))
    if page.has_prev or page.has_next:
        out.links.append(Link(f"{number:,}" if number else "·", None, f"Page {number}" if number else "This page",
                              current=True))
    for n, cursor in after:
        out.links.append(Link(f"{n:,}" if n else "·", cursor, f"Page {n}" if n else "A later page"))
    last_number = None if page.total_capped else -(-page.total // size)
    highest = max([n or 0 for n in near_numbers] + [number or 0])
    if page.last_cursor and (last_number is None or last_number > highest):
        if last_number is None or last_number > highest + 1:
            out.links.append(Link("…", None, "", gap=True))
        out.links += [Link(f"{last_number:,}" if last_number else "Last", page.last_cursor,
                           f"Page {last_number} (last)" if last_number else "Last page")]
    if page.has_next:
        out.links.append(Link("Next ›", page.next_cursor, "Next page", rel="next"))
    return out

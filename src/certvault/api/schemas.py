"""Shapes shared by every route module."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class CursorPage(Page[T], Generic[T]):
    """A page of a long list: past the first, pages go by cursor (no OFFSET deep into a big table)."""

    total_capped: bool = False  # the count stopped at 10,000
    next_cursor: str | None = None  # pass as `cursor` for the next page (None: this is the last)
    prev_cursor: str | None = None  # ... for the previous page (None: this is the first)


def cursor_page(items: list[T], page: Any, limit: int, offset: int = 0) -> CursorPage[T]:
    """A service's page by cursor (db/keyset.ListPage) as the API answers it."""
    return CursorPage(items=items, total=page.total, total_capped=page.total_capped, limit=limit, offset=offset,
                      next_cursor=page.next_cursor, prev_cursor=page.before_cursor)


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    code: str


class Message(BaseModel):
    message: str

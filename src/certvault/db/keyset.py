"""Keyset ("seek") paging: a page is the rows after (or before) one row's sort key, never an OFFSET.

A `Keyset` is a sort: its columns in order, the last ones unique (the id as tie-breaker), one direction for
all of them so one index serves both ways. Only the first column may be NULL; NULL rows form their own
segment, placed last (or first) the same way on SQLite and PostgreSQL, and each segment is read with its
own indexed query (`col IS NULL ORDER BY id`, `(col, id) > (:v, :id) ORDER BY col, id`).

A `Cursor` is a position: the sort's name, which way to read, the key of the row to read from and the page
number it leads to (when known). `encode` makes it an opaque URL-safe token; `decode` checks every part
against the sort (types, lengths, the sort's name) and raises InvalidInput for anything else, so an edited
or truncated token is a clear 400. A token only names a position in a list whose filters and permissions the
caller applies again: editing one can move you elsewhere in that list, nothing more.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Self, TypeVar

from sqlalchemy import ColumnElement, Select, and_, bindparam, tuple_
from sqlalchemy.orm import Session

from certvault.errors import InvalidInput

T = TypeVar("T")
MAX_TOKEN = 1024
COUNT_CAP = 10_000  # a long list's count stops here ("10,000+"): counting a million rows costs more than its page
KINDS = ("str", "int", "datetime", "uuid")
BAD = "this page link is damaged or out of date; start again from the first page"


@dataclass(frozen=True)
class KeyColumn:
    column: Any  # a mapped attribute (`Entry.not_after`); its `.key` reads the value from a loaded row
    kind: str  # one of KINDS: how the value is written into a cursor
    nullable: bool = False  # only the first column may be


@dataclass(frozen=True)
class Keyset:
    name: str  # written into cursors: a cursor of another sort is refused
    columns: tuple[KeyColumn, ...]
    descending: bool = False
    nulls_last: bool = True  # where NULLs of the first column go in the order shown

    def key_of(self, row: Any) -> tuple[Any, ...]:
        return tuple(getattr(row, c.column.key) for c in self.columns)


@dataclass(frozen=True)
class Cursor:
    sort: str
    forward: bool  # rows after `key`; False: rows before it (`key` None: from the end)
    key: tuple[Any, ...] | None
    page: int | None = None  # the number of the page it leads to, when known


@dataclass
class KeysetPage(Generic[T]):
    rows: list[T]
    page: int | None  # 1-based, when known
    has_prev: bool
    has_next: bool
    prev: str | None = None  # cursor tokens; None with has_prev: the first page
    next: str | None = None
    near: list[tuple[int | None, str | None]] = field(default_factory=list)  # (number, token) around this page
    last: str | None = None  # the last page (read backwards from the end)
    before: str | None = None  # the rows before this page, as a cursor even when they are the first page


@dataclass
class ListPage(Generic[T]):
    """A page as a list shows it (the names web/paging.py reads): its rows, the count (stopped at a cap, then
    `total_capped`) and the cursors of the pages around it."""

    items: list[T]
    total: int
    total_capped: bool = False
    number: int | None = 1  # 1-based, when known (a page reached from the end has none)
    has_prev: bool = False
    has_next: bool = False
    prev_cursor: str | None = None  # None on the page after the first too: the first page needs no cursor
    next_cursor: str | None = None
    last_cursor: str | None = None
    before_cursor: str | None = None  # prev_cursor for API clients: set whenever there are rows before
    near: list[tuple[int | None, str | None]] = field(default_factory=list)  # (number, cursor) nearby pages

    @classmethod
    def of(cls, found: KeysetPage[T], total: int, cap: int | None = None, **more: Any) -> Self:
        """The list's page from what `page` found and the count (`cap`: where counting stopped)."""
        capped = cap is not None and total > cap
        return cls(found.rows, min(total, cap) if cap is not None and capped else total, capped, found.page,
                   found.has_prev, found.has_next, found.prev, found.next, found.last, found.before, found.near,
                   **more)


def _value_out(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        return value.astimezone(UTC).isoformat()
    if kind == "uuid":
        return value.hex
    return value


def _value_in(value: Any, column: KeyColumn) -> Any:
    if value is None and column.nullable:
        return None
    if column.kind == "str" and isinstance(value, str) and len(value) <= 512 and "\x00" not in value:
        return value
    if column.kind == "int" and isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63:
        return value
    if column.kind == "datetime" and isinstance(value, str) and len(value) <= 40:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is not None:
            return moment.astimezone(UTC)
    if column.kind == "uuid" and isinstance(value, str) and len(value) == 32:
        return uuid.UUID(hex=value)
    raise ValueError("bad key value")


def encode(keyset: Keyset, cursor: Cursor) -> str:
    key = None if cursor.key is None else [_value_out(v, c.kind) for v, c in zip(cursor.key, keyset.columns,
                                                                                    strict=True)]
    raw = json.dumps([keyset.name, "a" if cursor.forward else "b", cursor.page, key], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(keyset: Keyset, token: str) -> Cursor:
    """The position a token names, checked against `keyset`; InvalidInput for anything else."""
    try:
        if len(token) > MAX_TOKEN:
            raise ValueError("too long")
        sort, way, page, key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if sort != keyset.name:
            raise InvalidInput(f"this page link belongs to another sort order ({str(sort)[:20]!r}); "
                               "start again from the first page")
        if way not in ("a", "b") or (page is not None and (type(page) is not int or not 1 <= page < 10**9)):
            raise ValueError("bad direction or page")
        if key is None:
            if way == "a":
                raise ValueError("no key")
            return Cursor(keyset.name, False, None, page)
        if not isinstance(key, list) or len(key) != len(keyset.columns):
            raise ValueError("bad key")
        values = tuple(_value_in(v, c) for v, c in zip(key, keyset.columns, strict=True))
        return Cursor(keyset.name, way == "a", values, page)
    except InvalidInput:
        raise
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise InvalidInput(BAD) from None


def _segments(keyset: Keyset) -> list[bool | None]:
    """The parts of the order shown: None (no NULLs possible), True (first column set), False (NULL)."""
    if not keyset.columns[0].nullable:
        return [None]
    return [True, False] if keyset.nulls_last else [False, True]


def _after(columns: Sequence[Any], values: Sequence[Any], ascending: bool) -> ColumnElement[bool]:
    """Strictly after `values` in (columns) order; the leading column bound lets either database seek."""
    params = [bindparam(None, v, type_=c.type) for c, v in zip(columns, values, strict=True)]
    if len(columns) == 1:
        return columns[0] > params[0] if ascending else columns[0] < params[0]
    lead = columns[0] >= params[0] if ascending else columns[0] <= params[0]
    rest = tuple_(*columns) > tuple_(*params) if ascending else tuple_(*columns) < tuple_(*params)
    return and_(lead, rest)


Filters = Callable[[Select[Any]], Select[Any]]


def walk(session: Session, stmt: Select[Any], keyset: Keyset, start: tuple[Any, ...] | None, forward: bool,
         count: int, filters: Filters, *, rows: bool = False) -> list[Any]:
    """Up to `count` entities of `stmt` (`rows`: result rows) that pass `filters`, from just past `start` (None:
    from the edge), forwards or backwards.

    The position's conditions come before the filters in the WHERE clause: given two bounds on one indexed column
    (`not_after <= :cursor` and the filter's `not_after < :now_plus_30d`), SQLite seeks on the first it reads, and
    the cursor's is the tight one."""
    segments = _segments(keyset) if forward else list(reversed(_segments(keyset)))
    ascending = keyset.descending != forward  # in reading order
    if start is not None and segments != [None]:
        segments = segments[segments.index(start[0] is not None):]
    out: list[Any] = []
    columns = [c.column for c in keyset.columns]
    for index, segment in enumerate(segments):
        if len(out) >= count:
            break
        part, cols = stmt, columns
        if segment is True:
            part = part.where(columns[0].is_not(None))
        elif segment is False:
            part, cols = part.where(columns[0].is_(None)), columns[1:]
        if start is not None and index == 0:
            part = part.where(_after(cols, start[len(columns) - len(cols):], ascending))
        ordered = filters(part).order_by(*[c.asc() if ascending else c.desc() for c in cols]).limit(count - len(out))
        out += list(session.execute(ordered).all() if rows else session.scalars(ordered))
    return out


def page(session: Session, stmt: Select[Any], keyset: Keyset, cursor: Cursor | None, limit: int,
         total: int | None, filters: Filters, around: int = 2) -> KeysetPage[Any]:
    """One page of `stmt` (a select of one entity) passing `filters` at `cursor`, with cursors for the pages
    around it.

    `total`: the row count when it is known (not capped), so the last page lines up with the numbered ones."""
    forward = cursor is None or cursor.forward
    start = None if cursor is None else cursor.key
    number = 1 if cursor is None else cursor.page
    count = limit
    if cursor is not None and cursor.key is None and total is not None:  # the last page, numbered from the first
        number = max(1, -(-total // limit))
        count = max(1, total - (number - 1) * limit)
    rows = walk(session, stmt, keyset, start, forward, count, filters)
    if not forward:
        rows.reverse()  # a short page here is the start of the list: kept short, so going back shows each row once
    keys = stmt.with_only_columns(*[c.column for c in keyset.columns])
    if not rows:
        return KeysetPage(rows, number, has_prev=cursor is not None, has_next=False)
    ahead = walk(session, keys, keyset, keyset.key_of(rows[-1]), True, around * limit, filters, rows=True)
    behind = [] if cursor is None else walk(session, keys, keyset, keyset.key_of(rows[0]), False, around * limit,
                                            filters, rows=True)
    result = KeysetPage(rows, number, has_prev=bool(behind), has_next=bool(ahead))
    earlier: list[tuple[int | None, str | None]] = []
    for k in range(1, around + 1):  # earlier pages: each ends just before the first row of the one after it
        if len(behind) > (k - 1) * limit:
            edge = keyset.key_of(rows[0]) if k == 1 else tuple(behind[(k - 1) * limit - 1])
            at = None if number is None else number - k
            # numbered (aligned) pages link page 1 as the first page; unnumbered ones go back exactly, so that
            # from a page reached from the end each row is shown once on the way back
            first = at == 1 or (at is not None and len(behind) < k * limit)
            earlier.append((1, None) if first else (at, encode(keyset, Cursor(keyset.name, False, edge, at))))
            if first:
                break
    later: list[tuple[int | None, str | None]] = []
    for k in range(1, around + 1):  # later pages: each starts just after the last row of the one before it
        if len(ahead) > (k - 1) * limit:
            edge = keyset.key_of(rows[-1]) if k == 1 else tuple(ahead[(k - 1) * limit - 1])
            at = None if number is None else number + k
            later.append((at, encode(keyset, Cursor(keyset.name, True, edge, at))))
    result.near = list(reversed(earlier)) + later
    if earlier:
        result.prev = earlier[0][1]
        result.before = encode(keyset, Cursor(keyset.name, False, keyset.key_of(rows[0]),
                                              None if number is None else number - 1))
    if later:
        result.next = later[0][1]
        result.last = encode(keyset, Cursor(keyset.name, False, None, None))
    return result

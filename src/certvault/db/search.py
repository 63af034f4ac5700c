"""LIKE patterns from what a user typed: `%`, `_` and the escape character match themselves.

SQLite has no default escape character and PostgreSQL's is `\\`; every LIKE built here names its escape,
so a search for "%" finds the names that contain a percent sign, on both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func

LIKE_ESCAPE = "\\"


def like_pattern(text: str, *, before: str = "%", after: str = "%") -> str:
    """`text` escaped, between `before` and `after` (by default: anywhere in the value); use with LIKE_ESCAPE."""
    escaped = text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    return before + escaped + after


def contains(column: Any, text: str, *, ignore_case: bool = False) -> ColumnElement[bool]:
    """`column` holds `text` (case-insensitively: both lowered, the same on SQLite and PostgreSQL)."""
    if ignore_case:
        return func.lower(column).like(like_pattern(text.lower()), escape=LIKE_ESCAPE)
    return column.like(like_pattern(text), escape=LIKE_ESCAPE)


def starts_with(column: Any, text: str) -> ColumnElement[bool]:
    return column.like(like_pattern(text, before=""), escape=LIKE_ESCAPE)

"""CSV export of what a table shows: the same filters and order as the page, as a download."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from fastapi.responses import Response

from certvault.filenames import content_disposition

CSV_ROWS = 10_000  # an export stops here; the page says so


def walk_pages(fetch: Callable[[str | None], Any]) -> Iterator[Any]:
    """Every row of a list that pages by cursor (`fetch(cursor)` answers a db/keyset ListPage), up to CSV_ROWS."""
    cursor: str | None = None
    given = 0
    while given < CSV_ROWS:
        found = fetch(cursor)
        yield from found.items
        given, cursor = given + len(found.items), found.next_cursor
        if cursor is None:
            return


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A cell a spreadsheet would run as a formula (CSV injection) starts with a quote instead.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": content_disposition(filename)})

"""Find a row by its id or, failing that, by its name: what every "ID|NAME" argument means."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

Row = TypeVar("Row")


def by_id_or_name(session: Session, model: type[Row], ref: uuid.UUID | str, name: Any,
                  *where: ColumnElement[bool]) -> Row | None:
    """`ref` as a UUID first, then as the value of the `name` column (narrowed by `where`, e.g. a kind
    when names are unique per kind; a caller checks the same of a row found by id)."""
    try:
        found = session.get(model, ref if isinstance(ref, uuid.UUID) else uuid.UUID(str(ref)))
    except ValueError:
        found = None
    if found is None:
        found = session.scalars(select(model).where(name == str(ref), *where)).first()
    return found

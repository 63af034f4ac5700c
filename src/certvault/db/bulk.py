"""Bulk writes that an import of a million rows needs, per database: executemany with values converted
in Python on SQLite, COPY on PostgreSQL, and the settings that keep a bulk load on its indexes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _json_string
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Uuid, bindparam, insert, text
from sqlalchemy.orm import Session

from certvault.db.base import UTCDateTime
from certvault.db.dialect import is_postgres, is_sqlite


def prepare_bulk_write(session: Session) -> None:
    """SQLite: a bulk write touches index pages all over the table's indexes; the default 2 MB page cache
    would re-read them from the OS for every batch. And each such transaction rewrites a large share of
    those indexes: checkpointing the WAL after every one (the default, at 1,000 pages) writes the same
    pages back again and again, so this connection checkpoints once 256 MB have gathered (others keep
    the default). PostgreSQL needs nothing."""
    if is_sqlite(session):
        session.execute(text("PRAGMA cache_size = -65536"))
        session.execute(text("PRAGMA wal_autocheckpoint = 65536"))


@contextmanager
def index_lookups(session: Session) -> Iterator[None]:
    """During a bulk load PostgreSQL's statistics still describe the empty table, and it would answer
    `column IN (500 values)` with a sequential scan of a million rows per batch."""
    postgres = is_postgres(session)
    if postgres:
        session.execute(text("SET LOCAL enable_seqscan = off"))
    try:
        yield
    finally:
        if postgres:
            session.execute(text("SET LOCAL enable_seqscan TO DEFAULT"))


def insert_many(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Many rows at once: executemany on SQLite (cheap per row, in-process); COPY on PostgreSQL,
    where psycopg's executemany costs a pipeline round per row."""
    if not rows:  # e.g. the names of a certificate that has none
        return
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite":
        _insert_sqlite(session, table, rows, dialect)
        return
    if dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    from psycopg import sql
    from psycopg.types.json import Jsonb

    columns = list(rows[0])
    json_columns = {name for name in columns if _json(table.c[name].type)}
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    driver = session.connection().connection.driver_connection  # same transaction as the session
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([Jsonb(row[c]) if c in json_columns else row[c] for c in columns])

def _insert_sqlite(session: Session, table: Any, rows: list[dict[str, Any]], dialect: Any) -> None:
    """sqlite3's executemany with values converted here, column by column, the way SQLAlchemy's
    types would (UTC text timestamps, hex UUIDs, JSON text): its per-row parameter machinery costs
    more than SQLite's own insert."""
    compiled = insert(table).values({name: bindparam(name) for name in rows[0]}).compile(dialect=dialect)
    columns = list(compiled.positiontup or ())
    get = itemgetter(*columns)
    converted = [(i, f, _json(table.c[name].type) is not None)
                 for i, name in enumerate(columns) if (f := _sqlite_converter(table.c[name].type, dialect))]
    values = []
    last: dict[int, tuple[Any, Any]] = {}  # per column: the last value converted (a batch shares its `now`)
    for row in rows:
        value = list(get(row)) if len(columns) > 1 else [get(row)]
        for i, convert, also_none in converted:
            raw = value[i]
            if raw is None and not also_none:
                continue  # JSON stores None as 'null', as SQLAlchemy does; other types as NULL
            seen = last.get(i)
            if seen is not None and seen[0] is raw:
                value[i] = seen[1]
                continue
            value[i] = convert(raw)
            last[i] = (raw, value[i])
        values.append(value)
    driver = session.connection().connection.driver_connection  # same transaction as the session
    assert driver is not None
    driver.executemany(compiled.string, values)


def _sqlite_utc(value: datetime) -> str:
    if value.tzinfo is UTC:  # nearly always (utcnow, cryptography's *_utc): "+00:00" is cut off
        return value.isoformat(" ", "microseconds")[:26]
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_converter(type_: Any, dialect: Any) -> Any:
    """How a value of this column type is stored by SQLite (None: as it is)."""
    if isinstance(type_, UTCDateTime):
        return _sqlite_utc  # what UTCDateTime + SQLite's DATETIME store, without two layers of calls
    if isinstance(type_, Uuid):
        return _uuid_hex
    if (json_type := _json(type_)) is not None and json_type.none_as_null is False:
        return _json_text  # SQLAlchemy's default serializer, called directly
    return type_.dialect_impl(dialect).bind_processor(dialect)  # JSON text, booleans as integers, ...


def _json(type_: Any) -> JSON | None:
    """The JSON type of a column, also inside a TypeDecorator (db.base.JSONType: JSONB on PostgreSQL)."""
    for candidate in (type_, getattr(type_, "impl", None)):
        if isinstance(candidate, JSON):
            return candidate
    return None


def _uuid_hex(value: uuid.UUID) -> str:
    return value.hex


def _json_text(value: Any) -> str:
    """json.dumps (SQLAlchemy's default serializer); a list of strings (SANs) is joined directly, with the
    same output, for it is most of the JSON an import writes."""
    if type(value) is list and all(type(item) is str for item in value):
        return "[" + ", ".join(map(_json_string, value)) + "]"
    return json.dumps(value)

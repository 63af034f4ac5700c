"""Jinja filters: dates, relative days, sizes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment


def _date(value: datetime | None, fmt: str = "%Y-%m-%d") -> str:
    return value.astimezone(UTC).strftime(fmt) if value else "—"


def _datetime(value: datetime | None) -> str:
    return _date(value, "%Y-%m-%d %H:%M UTC")


def _days_left(value: datetime | None) -> str:
    if value is None:
        return "—"
    days = (value - datetime.now(UTC)).days
    return f"expired {-days} d ago" if days < 0 else f"{days} d"


def _expiry_class(value: datetime | None) -> str:
    if value is None:
        return ""
    days = (value - datetime.now(UTC)).days
    return "bad" if days < 0 else "warn" if days <= 30 else "ok"


def install_filters(env: Environment) -> None:
    filters: dict[str, Any] = {
        "date": _date, "datetime": _datetime, "days_left": _days_left, "expiry_class": _expiry_class,
    }
    env.filters.update(filters)

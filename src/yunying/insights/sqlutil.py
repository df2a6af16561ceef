"""Small SQL pieces the people and event pages share, built only with the store's Dialect."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from yunying.store.dialect import Dialect


def contains(dialect: Dialect, haystack: str, needle: str) -> str:
    """Case-insensitive substring test; ``needle`` is user text, quoted here."""
    lit = dialect.str_lit(needle.lower())
    hay = f"lower(coalesce({haystack}, ''))"
    if dialect.name == "clickhouse":
        return f"(position({hay}, {lit}) > 0)"
    return f"(position({lit} IN {hay}) > 0)"


def in_list(dialect: Dialect, expr: str, values: list[str]) -> str:
    """``expr IN (...)`` with every value quoted; FALSE for an empty list."""
    if not values:
        return "FALSE"
    return f"{expr} IN ({', '.join(dialect.str_lit(v) for v in values)})"


def utc(value: Any) -> datetime | None:
    """Engine timestamps (naive UTC) as aware UTC datetimes."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def json_obj(text: Any) -> dict[str, Any]:
    """A stored properties column as a dict ({} when empty or not an object)."""
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}

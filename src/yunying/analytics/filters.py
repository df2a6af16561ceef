"""Property filters shared by every metric (and, later, segments).

A filter is data (pydantic); ``filter_sql`` turns it into a SQL predicate in which every
user-supplied key and value is quoted by the dialect, never pasted.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from yunying.events.model import NUMERIC_PROMOTED, PROMOTED_PROPERTIES
from yunying.store.dialect import Dialect

Operator = Literal[
    "eq", "neq", "in", "not_in", "contains", "not_contains", "regex", "gt", "gte", "lt", "lte",
    "is_set", "is_not_set",
]  # fmt: skip

Scalar = str | int | float | bool


class PropertyFilter(BaseModel):
    """One condition on an event property (``type='event'``) or person property."""

    key: str = Field(min_length=1, max_length=400)
    operator: Operator = "eq"
    value: Scalar | list[Scalar] | None = None
    type: Literal["event", "person"] = "event"


def property_expr(
    dialect: Dialect,
    key: str,
    *,
    alias: str,
    kind: Literal["event", "person"] = "event",
    numeric: bool = False,
) -> str:
    """SQL for property ``key`` of the row aliased ``alias`` (which has ``properties``).

    Event properties that are promoted to columns read the column directly.
    """
    column = PROMOTED_PROPERTIES.get(key) if kind == "event" else None
    prefix = f"{alias}." if alias else ""
    if column is not None:
        if numeric and column not in NUMERIC_PROMOTED:
            return (
                f"TRY_CAST({prefix}{column} AS DOUBLE)"
                if dialect.name == "duckdb"
                else (f"toFloat64OrNull({prefix}{column})")
            )
        return f"{prefix}{column}"
    if numeric:
        return dialect.json_num(f"{prefix}properties", key)
    return dialect.json_str(f"{prefix}properties", key)


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def filter_sql(
    dialect: Dialect, f: PropertyFilter, *, event_alias: str = "e", person_alias: str = "p"
) -> str:
    """A SQL predicate for one filter. Comparisons are on text except gt/gte/lt/lte."""
    alias = event_alias if f.type == "event" else person_alias
    op = f.operator
    if op in ("gt", "gte", "lt", "lte"):
        if isinstance(f.value, bool) or not isinstance(f.value, int | float):
            raise ValueError(f"filter on {f.key!r}: operator {op} needs a number")
        expr = property_expr(dialect, f.key, alias=alias, kind=f.type, numeric=True)
        sym = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
        return f"({expr} {sym} {dialect.num_lit(float(f.value))})"
    expr = property_expr(dialect, f.key, alias=alias, kind=f.type)
    if op == "is_set":
        return f"({expr} IS NOT NULL)"
    if op == "is_not_set":
        return f"({expr} IS NULL)"
    if op in ("in", "not_in"):
        values = f.value if isinstance(f.value, list) else [f.value]
        if not values or any(v is None for v in values):
            raise ValueError(f"filter on {f.key!r}: operator {op} needs a list of values")
        items = ", ".join(dialect.str_lit(_text(v)) for v in values)  # type: ignore[arg-type]
        if op == "in":
            return f"({expr} IN ({items}))"
        return f"({expr} IS NULL OR {expr} NOT IN ({items}))"
    if f.value is None or isinstance(f.value, list):
        raise ValueError(f"filter on {f.key!r}: operator {op} needs one value")
    value = dialect.str_lit(_text(f.value))
    if op == "eq":
        return f"({expr} = {value})"
    if op == "neq":
        return f"({expr} IS NULL OR {expr} != {value})"
    if op in ("contains", "not_contains"):
        found = (
            f"(position({value} IN {expr}) > 0)"
            if dialect.name == "duckdb"
            else (f"(position({expr}, {value}) > 0)")
        )
        return found if op == "contains" else f"({expr} IS NULL OR NOT {found})"
    if op == "regex":
        return f"coalesce({dialect.regexp_matches(expr, value)}, false)"
    raise ValueError(f"unknown operator {op!r}")


def filters_sql(dialect: Dialect, filters: list[PropertyFilter], **aliases: str) -> str:
    """All filters ANDed; ``TRUE`` when there are none."""
    if not filters:
        return "TRUE"
    return " AND ".join(filter_sql(dialect, f, **aliases) for f in filters)


def needs_person_join(filters: list[PropertyFilter]) -> bool:
    return any(f.type == "person" for f in filters)

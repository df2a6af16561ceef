"""SQL pieces the segment compiler needs beyond ``store.dialect`` (kept here so the shared
dialect stays small): date-valued properties and the universe of persons.

Everything engine-specific is decided by ``dialect.name`` in this one module; every value
from users reaches SQL through the dialect's quoting functions.
"""

from __future__ import annotations

from yunying.analytics.context import ProjectContext
from yunying.analytics.source import person_map_sql
from yunying.store.dialect import Dialect

# ISO 8601 date or date-time, optional fraction and UTC offset. Anything else (epoch
# numbers, "5 Jan 2024") is not a date here: ClickHouse's best-effort parser would accept
# it and DuckDB would not, so both engines refuse it alike.
ISO_RE = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)
_OFFSET_RE = r"(Z|[+-][0-9]{2}:?[0-9]{2})$"


def iso_timestamp(dialect: Dialect, text_expr: str, tz: str) -> str:
    """``text_expr`` (an ISO date/datetime as text) as a UTC instant comparable with
    ``dialect.ts_lit``; NULL when it is not ISO. Without an offset the text is local time
    in ``tz`` (a bare date is local midnight)."""
    iso = dialect.regexp_matches(text_expr, dialect.str_lit(ISO_RE))
    if dialect.name == "clickhouse":
        parsed = f"parseDateTime64BestEffortOrNull({text_expr}, 6, {dialect.str_lit(tz)})"
        return f"if(coalesce({iso}, false), {parsed}, NULL)"
    has_offset = dialect.regexp_matches(text_expr, dialect.str_lit(_OFFSET_RE))
    with_offset = f"timezone('UTC', TRY_CAST({text_expr} AS TIMESTAMPTZ))"
    local = f"timezone('UTC', timezone({dialect.str_lit(tz)}, TRY_CAST({text_expr} AS TIMESTAMP)))"
    return (
        f"(CASE WHEN NOT coalesce({iso}, false) THEN NULL "
        f"WHEN {has_offset} THEN {with_offset} ELSE {local} END)"
    )


def universe_sql(dialect: Dialect, ctx: ProjectContext) -> str:
    """Every current person of the project (``pid``): ids the mapping points to, plus the
    person ids of events whose distinct id has no mapping row (as the people list)."""
    project = int(ctx.project_id)
    return (
        f"SELECT person_id AS pid FROM ({person_map_sql(dialect, ctx)}) um "
        "UNION DISTINCT "
        f"SELECT DISTINCT person_id AS pid FROM events WHERE project_id = {project} "
        "AND distinct_id NOT IN (SELECT distinct_id FROM person_distinct_ids "
        f"WHERE project_id = {project})"
    )


def count_distinct_nonnull(dialect: Dialect, expr: str) -> str:
    """Distinct non-NULL values (both engines skip NULLs in these aggregates)."""
    return dialect.count_distinct(expr)

"""The only place where DuckDB and ClickHouse SQL differ.

Metric queries are written once, as SQL text that calls these helpers for every
engine-specific piece (time zones, JSON properties, date arithmetic, literals). Anything
not routed through a ``Dialect`` method must be SQL that both engines accept. Values from
users only ever reach SQL through ``str_lit``/``ident``/``json_path``, which are tested with
hostile input on both engines.

Why not SQLGlot transpilation: the pieces that differ are few but subtle (JSON of
non-string values, time-zone conversion of naive UTC timestamps, NULLs after ASOF joins),
and an explicit helper per piece is easier to test and read than a transpiler's output.
"""

from __future__ import annotations

import math
from datetime import UTC as _UTC
from datetime import date, datetime
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Interval = Literal["hour", "day", "week", "month"]


class Dialect:
    name: str = "base"

    # ---- literals and identifiers -------------------------------------------------------
    def str_lit(self, value: str) -> str:
        raise NotImplementedError

    def ident(self, name: str) -> str:
        raise NotImplementedError

    def num_lit(self, value: float | int) -> str:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"not a number: {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        return repr(value)

    def ts_lit(self, value: datetime) -> str:
        """A UTC timestamp literal (aware datetimes are converted to UTC)."""
        raise NotImplementedError

    def date_lit(self, value: date) -> str:
        raise NotImplementedError

    # ---- JSON properties ------------------------------------------------------------------
    def json_str(self, column: str, key: str) -> str:
        """Property ``key`` of JSON ``column`` as text; NULL when missing or JSON null.

        Numbers and booleans come back in their JSON spelling (``12``, ``true``).
        """
        raise NotImplementedError

    def json_num(self, column: str, key: str) -> str:
        """Property ``key`` as DOUBLE; NULL when missing or not numeric."""
        raise NotImplementedError

    # ---- time --------------------------------------------------------------------------
    def local_ts(self, column: str, tz: str) -> str:
        """UTC timestamp column shown in the project's time zone (for bucketing)."""
        raise NotImplementedError

    def local_date(self, column: str, tz: str) -> str:
        raise NotImplementedError

    def day_of_week(self, date_expr: str) -> str:
        """ISO day of week: Monday=1 … Sunday=7."""
        raise NotImplementedError

    def add_days(self, date_expr: str, days: str | int) -> str:
        raise NotImplementedError

    def add_months(self, date_expr: str, months: str | int) -> str:
        raise NotImplementedError

    def days_between(self, start: str, end: str) -> str:
        """Whole days from date ``start`` to date ``end`` (end - start)."""
        raise NotImplementedError

    def months_between(self, start: str, end: str) -> str:
        raise NotImplementedError

    def month_start(self, date_expr: str) -> str:
        raise NotImplementedError

    def add_seconds(self, ts_expr: str, seconds: str | int) -> str:
        return f"({ts_expr} + INTERVAL ({seconds}) SECOND)"

    def epoch_seconds(self, ts_expr: str) -> str:
        """Seconds since 1970 as DOUBLE (microsecond precision)."""
        raise NotImplementedError

    def epoch_micros(self, ts_expr: str) -> str:
        """Microseconds since 1970 as a 64-bit integer: exact, so ties and window edges
        compare without float rounding (funnels order and join on it)."""
        raise NotImplementedError

    def period_start(self, column: str, tz: str, interval: Interval, week_start: int = 1) -> str:
        """First day (or hour) of the calendar period holding UTC timestamp ``column``.

        ``week_start`` is the ISO weekday weeks start on (1 = Monday, 7 = Sunday).
        """
        if interval == "hour":
            return self.hour_start(column, tz)
        d = self.local_date(column, tz)
        return self.period_of_date(d, interval, week_start)

    def period_of_date(self, d: str, interval: Interval, week_start: int = 1) -> str:
        if interval == "day":
            return d
        if interval == "week":
            offset = f"(({self.day_of_week(d)} - {int(week_start)} + 7) % 7)"
            return self.add_days(d, f"-{offset}")
        if interval == "month":
            return self.month_start(d)
        raise ValueError(f"unknown interval {interval!r}")

    def hour_start(self, column: str, tz: str) -> str:
        raise NotImplementedError

    # ---- aggregates ----------------------------------------------------------------------
    def arg_max(self, value: str, by: str) -> str:
        raise NotImplementedError

    def arg_min(self, value: str, by: str) -> str:
        raise NotImplementedError

    def int_div(self, a: str, b: str | int) -> str:
        """Integer division (both operands whole numbers)."""
        raise NotImplementedError

    # 64-bit masks (retention keeps a person's return periods as one): UInt64 on both.
    def bit(self, index: str | int) -> str:
        """A mask with bit ``index`` set."""
        raise NotImplementedError

    def bit_or_agg(self, expr: str) -> str:
        raise NotImplementedError

    def shift_right(self, expr: str, n: str | int) -> str:
        raise NotImplementedError

    def bit_and(self, a: str, b: str | int) -> str:
        raise NotImplementedError

    def median(self, expr: str) -> str:
        raise NotImplementedError

    def count_distinct(self, expr: str) -> str:
        """Exact distinct count (ClickHouse's uniqExact, not an estimate)."""
        return f"count(DISTINCT {expr})"

    def regexp_matches(self, expr: str, pattern_sql: str) -> str:
        raise NotImplementedError

    def url_host(self, expr: str) -> str:
        """Lower-cased host of an absolute URL, without a leading ``www.``; NULL if none.

        ``$direct`` and other non-URLs give NULL (AARRR first-touch channel from referrer).
        """
        raise NotImplementedError

    def settings_suffix(self) -> str:
        """Text appended to every query (ClickHouse settings); empty elsewhere."""
        return ""

    def cte_materialized(self, name: str, sql: str) -> str:
        """``name AS (sql)``: a CTE that the query reads several times.

        Only a hint: DuckDB is told to compute it once (otherwise it may inline it into every
        reader); ClickHouse has no such hint and inlines CTEs, which gives the same rows.
        """
        return f"{name} AS ({sql})"


# scheme://[user@][www.]host — group 1 is the host (RE2 syntax, same on both engines).
_URL_HOST_RE = r"^[a-z][a-z0-9+.-]*://(?:[^/?#@]*@)?(?:www\.)?([^/:?#@]+)"


FIXED_SINCE_YEAR = 1992


@lru_cache(maxsize=256)
def fixed_offset_seconds(tz: str) -> int | None:
    """The zone's UTC offset if it has not changed since 1992 and has no planned change.

    Checked at every month start from 1992 to 2100, which catches DST and historical
    changes (Asia/Shanghai last observed DST in 1991). Timestamps before 1992 in such a
    zone would be bucketed with today's offset; product analytics has no such events.
    """
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    offsets = {
        datetime(year, month, 1, 12, tzinfo=_UTC).astimezone(zone).utcoffset()
        for year in range(FIXED_SINCE_YEAR, 2101)
        for month in range(1, 13)
    }
    if len(offsets) != 1:
        return None
    (offset,) = offsets
    return int(offset.total_seconds()) if offset is not None else None


def _pointer(key: str) -> str:
    """RFC 6901 JSON Pointer for one top-level key (no path syntax leaks from the key)."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


class DuckDBDialect(Dialect):
    name = "duckdb"

    def str_lit(self, value: str) -> str:
        if not isinstance(value, str):
            raise TypeError(f"not a string: {value!r}")
        if "\x00" in value:
            raise ValueError("strings may not contain NUL characters")
        return "'" + value.replace("'", "''") + "'"

    def ident(self, name: str) -> str:
        if "\x00" in name:
            raise ValueError("identifiers may not contain NUL characters")
        return '"' + name.replace('"', '""') + '"'

    def ts_lit(self, value: datetime) -> str:
        if value.tzinfo is not None:
            value = value.astimezone(_UTC).replace(tzinfo=None)
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"

    def date_lit(self, value: date) -> str:
        return f"DATE '{value.isoformat()}'"

    def json_str(self, column: str, key: str) -> str:
        return f"json_extract_string({column}, {self.str_lit(_pointer(key))})"

    def json_num(self, column: str, key: str) -> str:
        return f"TRY_CAST(json_extract({column}, {self.str_lit(_pointer(key))}) AS DOUBLE)"

    def local_ts(self, column: str, tz: str) -> str:
        # DuckDB's ICU conversion costs ~5x a plain addition on millions of rows; zones
        # whose offset no longer changes (Asia/Shanghai, the default) take the fast path.
        offset = fixed_offset_seconds(tz)
        if offset is not None:
            return f"({column} + INTERVAL ({offset}) SECOND)"
        return f"timezone({self.str_lit(tz)}, timezone('UTC', {column}))"

    def local_date(self, column: str, tz: str) -> str:
        return f"CAST({self.local_ts(column, tz)} AS DATE)"

    def hour_start(self, column: str, tz: str) -> str:
        return f"date_trunc('hour', {self.local_ts(column, tz)})"

    def day_of_week(self, date_expr: str) -> str:
        return f"isodow({date_expr})"

    def add_days(self, date_expr: str, days: str | int) -> str:
        return f"CAST({date_expr} + to_days(CAST({days} AS INTEGER)) AS DATE)"

    def add_months(self, date_expr: str, months: str | int) -> str:
        return f"CAST({date_expr} + to_months(CAST({months} AS INTEGER)) AS DATE)"

    def days_between(self, start: str, end: str) -> str:
        return f"date_diff('day', {start}, {end})"

    def months_between(self, start: str, end: str) -> str:
        return f"date_diff('month', {start}, {end})"

    def month_start(self, date_expr: str) -> str:
        return f"CAST(date_trunc('month', {date_expr}) AS DATE)"

    def epoch_seconds(self, ts_expr: str) -> str:
        return f"(epoch_us({ts_expr}) / 1000000.0)"

    def epoch_micros(self, ts_expr: str) -> str:
        return f"epoch_us({ts_expr})"

    def arg_max(self, value: str, by: str) -> str:
        return f"arg_max({value}, {by})"

    def arg_min(self, value: str, by: str) -> str:
        return f"arg_min({value}, {by})"

    def int_div(self, a: str, b: str | int) -> str:
        return f"({a} // {b})"

    def bit(self, index: str | int) -> str:
        # UBIGINT << UBIGINT stays UBIGINT; with an INTEGER shift DuckDB widens to HUGEINT,
        # which made every mask and bit_or 128-bit (~20% of a 30-day retention).
        return f"(CAST(1 AS UBIGINT) << CAST({index} AS UBIGINT))"

    def bit_or_agg(self, expr: str) -> str:
        return f"bit_or({expr})"

    def shift_right(self, expr: str, n: str | int) -> str:
        return f"({expr} >> CAST({n} AS UBIGINT))"

    def bit_and(self, a: str, b: str | int) -> str:
        return f"({a} & CAST({b} AS UBIGINT))"

    def median(self, expr: str) -> str:
        return f"quantile_cont({expr}, 0.5)"

    def regexp_matches(self, expr: str, pattern_sql: str) -> str:
        return f"regexp_matches({expr}, {pattern_sql})"

    def url_host(self, expr: str) -> str:
        pattern = self.str_lit(_URL_HOST_RE)
        return f"nullif(regexp_extract(lower({expr}), {pattern}, 1), '')"

    def cte_materialized(self, name: str, sql: str) -> str:
        return f"{name} AS MATERIALIZED ({sql})"


class ClickHouseDialect(Dialect):
    name = "clickhouse"

    def str_lit(self, value: str) -> str:
        if not isinstance(value, str):
            raise TypeError(f"not a string: {value!r}")
        if "\x00" in value:
            raise ValueError("strings may not contain NUL characters")
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def ident(self, name: str) -> str:
        if "\x00" in name:
            raise ValueError("identifiers may not contain NUL characters")
        return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"

    def ts_lit(self, value: datetime) -> str:
        if value.tzinfo is not None:
            value = value.astimezone(_UTC).replace(tzinfo=None)
        return f"toDateTime64('{value.isoformat(sep=' ', timespec='microseconds')}', 6, 'UTC')"

    def date_lit(self, value: date) -> str:
        return f"toDate('{value.isoformat()}')"

    def json_str(self, column: str, key: str) -> str:
        k = self.str_lit(key)
        return (
            f"multiIf(JSONType({column}, {k}) = 'String', JSONExtractString({column}, {k}), "
            f"JSONType({column}, {k}) = 'Null', NULL, nullIf(JSONExtractRaw({column}, {k}), ''))"
        )

    def json_num(self, column: str, key: str) -> str:
        k = self.str_lit(key)
        return f"JSONExtract({column}, {k}, 'Nullable(Float64)')"

    def local_ts(self, column: str, tz: str) -> str:
        return f"toTimeZone({column}, {self.str_lit(tz)})"

    def local_date(self, column: str, tz: str) -> str:
        return f"toDate({column}, {self.str_lit(tz)})"

    def hour_start(self, column: str, tz: str) -> str:
        return f"toStartOfHour({self.local_ts(column, tz)})"

    def day_of_week(self, date_expr: str) -> str:
        return f"toDayOfWeek({date_expr})"

    def add_days(self, date_expr: str, days: str | int) -> str:
        return f"addDays({date_expr}, toInt32({days}))"

    def add_months(self, date_expr: str, months: str | int) -> str:
        return f"addMonths({date_expr}, toInt32({months}))"

    def days_between(self, start: str, end: str) -> str:
        return f"dateDiff('day', {start}, {end})"

    def months_between(self, start: str, end: str) -> str:
        return f"dateDiff('month', {start}, {end})"

    def month_start(self, date_expr: str) -> str:
        return f"toStartOfMonth({date_expr})"

    def epoch_seconds(self, ts_expr: str) -> str:
        return f"(toUnixTimestamp64Micro({ts_expr}) / 1000000.0)"

    def epoch_micros(self, ts_expr: str) -> str:
        return f"toUnixTimestamp64Micro({ts_expr})"

    def arg_max(self, value: str, by: str) -> str:
        return f"argMax({value}, {by})"

    def arg_min(self, value: str, by: str) -> str:
        return f"argMin({value}, {by})"

    def int_div(self, a: str, b: str | int) -> str:
        return f"intDiv({a}, {b})"

    def bit(self, index: str | int) -> str:
        return f"bitShiftLeft(toUInt64(1), {index})"

    def bit_or_agg(self, expr: str) -> str:
        return f"groupBitOr({expr})"

    def shift_right(self, expr: str, n: str | int) -> str:
        return f"bitShiftRight({expr}, {n})"

    def bit_and(self, a: str, b: str | int) -> str:
        return f"bitAnd({a}, toUInt64({b}))"

    def median(self, expr: str) -> str:
        return f"quantileExactInclusive(0.5)({expr})"

    def count_distinct(self, expr: str) -> str:
        return f"uniqExact({expr})"

    def regexp_matches(self, expr: str, pattern_sql: str) -> str:
        return f"match({expr}, {pattern_sql})"

    def url_host(self, expr: str) -> str:
        return f"nullIf(extract(lower({expr}), {self.str_lit(_URL_HOST_RE)}), '')"

    def settings_suffix(self) -> str:
        return " SETTINGS join_use_nulls = 1"

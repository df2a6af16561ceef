"""Which UTC instants a set of days covers, and the SQL that selects them.

Shared by ``person_days`` (local days) and ``event_timelines`` (UTC days), which are kept
from the same marks of UTC days.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from yunying.store.dialect import Dialect


def local_days_of(utc_days: Iterable[date], tz: str) -> set[date]:
    """Local days of ``tz`` that overlap any of the UTC days (each overlaps one or two)."""
    zone = ZoneInfo(tz)
    out: set[date] = set()
    for d in utc_days:
        start = datetime.combine(d, time(0), tzinfo=UTC)
        out.add(start.astimezone(zone).date())
        out.add((start + timedelta(days=1, microseconds=-1)).astimezone(zone).date())
    return out


def day_ranges_utc(days: Iterable[date], tz: str) -> list[tuple[datetime, datetime]]:
    """[start, end) UTC instants covering the local days, consecutive days merged."""
    zone = ZoneInfo(tz)
    out: list[tuple[datetime, datetime]] = []
    for d in sorted(set(days)):
        start = datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(d + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def ranges_sql(dialect: Dialect, column: str, ranges: list[tuple[datetime, datetime]]) -> str:
    if not ranges:
        return "FALSE"
    parts = [
        f"({column} >= {dialect.ts_lit(a)} AND {column} < {dialect.ts_lit(b)})" for a, b in ranges
    ]
    return "(" + " OR ".join(parts) + ")"

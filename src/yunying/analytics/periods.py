"""Calendar periods in Python (day, week, month; hour for trends): one definition shared by
every metric that zero-fills periods or labels cohorts, matching the SQL side
(``Dialect.period_of_date``)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from yunying.store.dialect import Interval


def period_of(d: date, interval: Interval, week_start: int = 1) -> date:
    """Start of the calendar period (day, week, month) holding local day ``d``."""
    if interval == "day":
        return d
    if interval == "week":
        return d - timedelta(days=(d.isoweekday() - week_start) % 7)
    if interval == "month":
        return d.replace(day=1)
    raise ValueError(f"no date period for interval {interval!r}")


def shift_period(p: date, interval: Interval, n: int = 1) -> date:
    """The period start ``n`` periods after ``p`` (before, when ``n`` is negative)."""
    if interval == "day":
        return p + timedelta(days=n)
    if interval == "week":
        return p + timedelta(days=7 * n)
    if interval == "month":
        months = p.year * 12 + p.month - 1 + n
        return date(months // 12, months % 12 + 1, 1)
    raise ValueError(f"no date period for interval {interval!r}")


def period_starts(
    start: date, end: date, interval: Interval, week_start: int = 1
) -> list[date] | list[datetime]:
    """Every period touching local days ``start``…``end``; hours as naive local datetimes."""
    if interval == "hour":
        days = (end - start).days + 1
        return [
            datetime.combine(start + timedelta(days=i), time(h))
            for i in range(days)
            for h in range(24)
        ]
    out: list[date] = []
    p = period_of(start, interval, week_start)
    while p <= end:
        out.append(p)
        p = shift_period(p, interval)
    return out


def period_offset(start: date, later: date, interval: Interval) -> int:
    """Whole periods from period start ``start`` to period start ``later``."""
    if interval == "day":
        return (later - start).days
    if interval == "week":
        return (later - start).days // 7
    return (later.year - start.year) * 12 + later.month - start.month

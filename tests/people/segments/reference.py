"""A pure-Python evaluator of the segment DSL: the specification the SQL must agree with.

It works on plain data (events, merges, person properties, derived values), one person at
a time, with the simplest possible code, so that a disagreement with the compiled SQL
points at the SQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from yunying.analytics.context import ProjectContext
from yunying.events.model import Event
from yunying.people.segments import dsl


@dataclass
class World:
    """Everything a segment can look at, already resolved to persons."""

    ctx: ProjectContext
    today: date
    events: dict[str, list[Event]]  # person id → events (after merge)
    props: dict[str, dict[str, Any]]  # person id → person properties
    values: dict[str, dict[str, tuple[float | None, str | None]]] = field(default_factory=dict)
    segments: dict[int, Any] = field(default_factory=dict)  # id → node, or set of ids (static)

    @property
    def persons(self) -> set[str]:
        return set(self.events) | set(self.props)


def world(
    ctx: ProjectContext,
    today: date,
    events: list[Event],
    *,
    person_of: Callable[[str], str],
    props: dict[str, dict[str, Any]] | None = None,
    persons: set[str] | None = None,
) -> World:
    by_person: dict[str, list[Event]] = {p: [] for p in persons or set()}
    for e in events:
        by_person.setdefault(person_of(e.distinct_id), []).append(e)
    return World(ctx, today, by_person, props or {})


def text(value: Any) -> str | None:
    """A JSON value as the SQL side reads it with json_str (JSON spelling for non-strings)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _lit(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_NUMERIC = re.compile(r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$")


def number(value: Any) -> float | None:
    """json_num: numbers, numeric strings, and booleans as 1/0 (both engines agree)."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str) and _NUMERIC.match(value):
        return float(value)
    if not isinstance(value, int | float):
        return None
    return float(value)


def match(props: dict[str, Any], key: str, op: str, value: Any) -> bool:
    """filters.filter_sql, in Python."""
    raw = props.get(key)
    if op in ("gt", "gte", "lt", "lte"):
        n = number(raw)
        if n is None:
            return False
        v = float(value)
        return {"gt": n > v, "gte": n >= v, "lt": n < v, "lte": n <= v}[op]
    t = text(raw)
    if op == "is_set":
        return t is not None
    if op == "is_not_set":
        return t is None
    if op in ("in", "not_in"):
        found = t is not None and t in {_lit(v) for v in value}
        return found if op == "in" else not found
    v = _lit(value)
    if op == "eq":
        return t == v
    if op == "neq":
        return t is None or t != v
    if op == "contains":
        return t is not None and v in t
    if op == "not_contains":
        return t is None or v not in t
    if op == "regex":
        return t is not None and re.search(v, t) is not None
    raise AssertionError(op)


_ISO = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)


def as_instant(value: Any, tz: str) -> datetime | None:
    if not isinstance(value, str) or not _ISO.match(value):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(tz))
    return dt.astimezone(UTC)


def local_day(ts: datetime, ctx: ProjectContext) -> date:
    return ts.astimezone(ctx.tz).date()


def in_days(ts: datetime, ctx: ProjectContext, first: date, last: date) -> bool:
    return first <= local_day(ts, ctx) <= last


def _events_match(e: Event, event: str | None, filters: list[dsl.Match]) -> bool:
    if event is not None and e.event != event:
        return False
    return all(match(e.properties, f.key, f.operator, f.value) for f in filters)


def funnel_reached(events: list[Event], c: dsl.FunnelStep, w: World) -> int:
    """Ordered funnels only: furthest step over attempts entering in the window."""
    assert c.mode == "ordered"
    seconds = c.conversion_window * {
        "seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800,
    }[c.conversion_unit]  # fmt: skip
    first, last = c.window.days(w.today)
    evs = sorted(events, key=lambda e: (e.timestamp, e.uuid))
    best = 0

    def hit(e: Event, k: int) -> bool:
        s = c.steps[k]
        return e.event == s.event and all(
            match(e.properties, f.key, f.operator, f.value) for f in s.filters
        )

    for i, e in enumerate(evs):
        if not hit(e, 0) or not in_days(e.timestamp, w.ctx, first, last):
            continue
        reached, t = 1, e.timestamp
        limit = e.timestamp + timedelta(seconds=seconds)
        for k in range(1, len(c.steps)):
            nxt = next((x for x in evs if x.timestamp > t and hit(x, k)), None)
            if nxt is None or nxt.timestamp > limit:
                break
            reached, t = k + 1, nxt.timestamp
        best = max(best, reached)
        del i
    return best


def holds(node: Any, person: str, w: World) -> bool:
    if isinstance(node, dsl.Group):
        parts = (holds(c, person, w) for c in node.conditions)
        return all(parts) if node.op == "and" else any(parts)
    if isinstance(node, dsl.Not):
        return not holds(node.condition, person, w)
    c = node
    events = w.events.get(person, [])
    ctx = w.ctx
    if isinstance(c, dsl.EventProperty):
        c = c.as_behaviour()
    if isinstance(c, dsl.Behaviour):
        first, last = c.window.days(w.today)
        n = sum(
            1
            for e in events
            if in_days(e.timestamp, ctx, first, last) and _events_match(e, c.event, c.filters)
        )
        return c.count.holds(n) == c.did
    if isinstance(c, dsl.FirstDid):
        times = [e.timestamp for e in events if _events_match(e, c.event, c.filters)]
        first, last = c.window.days(w.today)
        return bool(times) and in_days(min(times), ctx, first, last)
    if isinstance(c, dsl.ActiveDays):
        first, last = dsl.Window(last_days=c.last_days).days(w.today)
        days = {
            local_day(e.timestamp, ctx)
            for e in events
            if in_days(e.timestamp, ctx, first, last) and (c.event is None or e.event == c.event)
        }
        return len(days) >= c.at_least
    if isinstance(c, dsl.PersonProperty):
        props = w.props.get(person, {})
        if c.operator in ("before", "after", "within_last_days"):
            ts = as_instant(props.get(c.key), ctx.timezone)
            if ts is None:
                return False
            if c.operator == "before":
                return ts < ctx.day_start_utc(c.boundary(w.today))
            if c.operator == "after":
                return ts >= ctx.day_start_utc(c.boundary(w.today) + timedelta(days=1))
            start = ctx.day_start_utc(w.today - timedelta(days=int(c.value) - 1))  # type: ignore[arg-type]
            return start <= ts < ctx.day_start_utc(w.today + timedelta(days=1))
        return match(props, c.key, c.operator, c.value)
    if isinstance(c, dsl.Layer):
        v = w.values.get(f"layer:{c.scheme}", {}).get(person)
        return v is not None and v[1] in c.values
    if isinstance(c, dsl.Score):
        v = w.values.get(f"score:{c.name}", {}).get(person)
        if v is None or v[0] is None:
            return False
        x, y = v[0], c.value
        return {
            "eq": x == y, "neq": x != y, "gt": x > y, "gte": x >= y, "lt": x < y, "lte": x <= y,
        }[c.operator]  # fmt: skip
    if isinstance(c, dsl.InSegment):
        target = w.segments[c.segment_id]
        if isinstance(target, set):
            return person in target
        return holds(target, person, w)
    if isinstance(c, dsl.FunnelStep):
        return funnel_reached(events, c, w) >= c.step
    raise AssertionError(type(c))


def members(node: Any, w: World) -> set[str]:
    return {p for p in w.persons if holds(node, p, w)}

"""Segment DSL → one SQL query selecting ``person_id`` (each member once).

How the query is shaped, and why:
- Every event-based condition (behaviour, event property, first did, active days) is a
  conditional aggregate over ONE scan of the events, grouped first per distinct id (the
  mapping join then touches one row per id, not per event) and then per person after
  identity merge. Three behavioural conditions cost one scan, not three.
- The boolean tree becomes one predicate over a row per person (aggregates, person
  properties, ``IN`` look-ups of derived values), so NOT is a plain ``NOT`` and the result
  of NOT(x) is every person minus x.
- The rows come from the aggregates alone when the tree can only hold for persons with
  matching events (e.g. an AND with a "did at least once"); otherwise from every person
  of the project (``sqlparts.universe_sql``), which NOT and "did not" need.
- Funnel steps reuse the funnel metric's SQL (``funnel_sql.funnel_ctes``) unchanged.

Keys, values, event and segment names reach SQL only through the dialect's quoting
(``str_lit``, ``json_str``/``json_num`` with literal keys, ``filters.filter_sql``).
The caller appends ``dialect.settings_suffix()`` to the outermost statement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from yunying.analytics.common import DateRange
from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import PropertyFilter, filter_sql, property_expr
from yunying.analytics.funnel_sql import funnel_ctes
from yunying.analytics.funnels import FunnelQuery
from yunying.analytics.source import person_map_sql, persons_sql
from yunying.people.segments import dsl
from yunying.people.segments.sqlparts import iso_timestamp, universe_sql
from yunying.store.derived import values_sql
from yunying.store.dialect import Dialect


class CompileError(ValueError):
    """A definition that cannot be compiled (unknown or cyclic segment reference)."""


@dataclass(frozen=True)
class SegmentRef:
    """What ``in_segment`` needs to know about another segment: a dynamic one is inlined
    from its definition (always fresh); a static one reads its published members."""

    segment_id: int
    definition: Any | None  # parsed node; None = static list


Resolver = Callable[[int], SegmentRef | None]

_CMP = {"at_least": ">=", "at_most": "<=", "exactly": "="}
_NUM_OPS = {"eq": "=", "neq": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def segment_value_name(segment_id: int) -> str:
    """The derived-values name holding a segment's current members."""
    return f"segment:{int(segment_id)}"


@dataclass
class _Agg:
    """One conditional aggregate of the events scan."""

    kind: str  # "count" | "first" | "days"
    cond: str  # SQL predicate over ``e`` (events row)
    start: datetime | None  # scan bounds this aggregate needs (None = unbounded)
    end: datetime
    names: list[str] | None  # event names it needs (None = any event)


@dataclass
class _Compiler:
    dialect: Dialect
    ctx: ProjectContext
    today: date
    resolve: Resolver | None
    stack: tuple[int, ...] = ()
    aggs: list[_Agg] = field(default_factory=list)
    needs_person: bool = False
    pid: str = "b.pid"  # the person id column of the row the predicate sees

    # ---- the tree -------------------------------------------------------------------------
    def predicate(self, node: Any) -> str:
        if isinstance(node, dsl.Group):
            joiner = " AND " if node.op == "and" else " OR "
            return "(" + joiner.join(self.predicate(c) for c in node.conditions) + ")"
        if isinstance(node, dsl.Not):
            return f"(NOT {self.predicate(node.condition)})"
        return f"coalesce({self.atom(node)}, false)"

    def anchored(self, node: Any) -> bool:
        """True when the node can only hold for persons who have aggregated events."""
        if isinstance(node, dsl.Group):
            parts = [self.anchored(c) for c in node.conditions]
            return any(parts) if node.op == "and" else all(parts)
        if isinstance(node, dsl.EventProperty):
            return True
        if isinstance(node, dsl.Behaviour):
            return node.did and not node.count.holds(0)
        return isinstance(node, dsl.FirstDid | dsl.ActiveDays)

    # ---- conditions -----------------------------------------------------------------------
    def atom(self, c: Any) -> str:
        d = self.dialect
        if isinstance(c, dsl.EventProperty):
            c = c.as_behaviour()
        if isinstance(c, dsl.Behaviour):
            start, end = dsl.window_bounds(self.ctx, c.window, self.today)
            col = self._agg("count", c.event, c.filters, start, end)
            test = f"coalesce(a.{col}, 0) {_CMP[c.count.comparator]} {int(c.count.value)}"
            return test if c.did else f"(NOT ({test}))"
        if isinstance(c, dsl.FirstDid):
            start, end = dsl.window_bounds(self.ctx, c.window, self.today)
            col = self._agg("first", c.event, c.filters, None, end)
            return f"(a.{col} >= {d.ts_lit(start)} AND a.{col} < {d.ts_lit(end)})"
        if isinstance(c, dsl.ActiveDays):
            window = dsl.Window(last_days=c.last_days)
            start, end = dsl.window_bounds(self.ctx, window, self.today)
            col = self._agg("days", c.event, [], start, end)
            return f"(coalesce(a.{col}, 0) >= {int(c.at_least)})"
        if isinstance(c, dsl.PersonProperty):
            self.needs_person = True
            return self._person_property(c)
        if isinstance(c, dsl.Layer):
            values = ", ".join(d.str_lit(v) for v in c.values)
            src = values_sql(d, self.ctx.project_id, f"layer:{c.scheme}")
            return (
                f"{self.pid} IN (SELECT person_id FROM ({src}) v WHERE v.value_str IN ({values}))"
            )
        if isinstance(c, dsl.Score):
            src = values_sql(d, self.ctx.project_id, f"score:{c.name}")
            test = f"v.value_num {_NUM_OPS[c.operator]} {d.num_lit(float(c.value))}"
            return f"{self.pid} IN (SELECT person_id FROM ({src}) v WHERE {test})"
        if isinstance(c, dsl.InSegment):
            return f"{self.pid} IN ({self._segment(c.segment_id)})"
        if isinstance(c, dsl.FunnelStep):
            return f"{self.pid} IN ({self._funnel(c)})"
        raise CompileError(f"unknown condition {type(c).__name__}")

    def _agg(
        self,
        kind: str,
        event: str | None,
        filters: list[dsl.Match],
        start: datetime | None,
        end: datetime,
    ) -> str:
        d = self.dialect
        parts = []
        if event is not None:
            parts.append(f"e.event = {d.str_lit(event)}")
        if start is not None:
            parts.append(f"e.timestamp >= {d.ts_lit(start)}")
        parts.append(f"e.timestamp < {d.ts_lit(end)}")
        parts += [filter_sql(d, f.as_filter(), event_alias="e") for f in filters]
        names = None if event is None else [event]
        self.aggs.append(_Agg(kind, " AND ".join(parts), start, end, names))
        return f"c{len(self.aggs)}"

    def _person_property(self, c: dsl.PersonProperty) -> str:
        d = self.dialect
        if c.operator in ("before", "after", "within_last_days"):
            text = property_expr(d, c.key, alias="p", kind="person")
            ts = iso_timestamp(d, text, self.ctx.timezone)
            if c.operator == "before":
                return f"({ts} < {d.ts_lit(self.ctx.day_start_utc(c.boundary(self.today)))})"
            if c.operator == "after":
                after = self.ctx.day_range_utc(c.boundary(self.today), c.boundary(self.today))[1]
                return f"({ts} >= {d.ts_lit(after)})"
            window = dsl.Window(last_days=int(c.value))  # type: ignore[arg-type]
            start, end = dsl.window_bounds(self.ctx, window, self.today)
            return f"({ts} >= {d.ts_lit(start)} AND {ts} < {d.ts_lit(end)})"
        f = PropertyFilter(key=c.key, operator=c.operator, value=c.value, type="person")
        return filter_sql(d, f, person_alias="p")

    def _segment(self, segment_id: int) -> str:
        if segment_id in self.stack:
            path = " → ".join(str(s) for s in (*self.stack, segment_id))
            raise CompileError(f"segment {segment_id} refers to itself ({path})")
        ref = self.resolve(segment_id) if self.resolve else None
        if ref is None:
            raise CompileError(f"segment {segment_id} does not exist in this project")
        if ref.definition is None:
            src = values_sql(self.dialect, self.ctx.project_id, segment_value_name(segment_id))
            return f"SELECT person_id FROM ({src}) v"
        inner = _Compiler(
            self.dialect, self.ctx, self.today, self.resolve, (*self.stack, segment_id)
        )
        return inner.build(ref.definition)

    def _funnel(self, c: dsl.FunnelStep) -> str:
        date_from, date_to = c.window.days(self.today)
        q = FunnelQuery(
            steps=c.steps,
            mode=c.mode,
            window=c.conversion_window,
            window_unit=c.conversion_unit,
            date_range=DateRange(date_from=date_from, date_to=date_to),
        )
        ctes = funnel_ctes(self.dialect, self.ctx, q)
        return f"{ctes}\nSELECT pid FROM fp WHERE reached >= {int(c.step)}"

    # ---- assembling -----------------------------------------------------------------------
    def _aggregates_sql(self) -> str:
        """``pid, c1, c2, …``: one row per person with matching events."""
        d = self.dialect
        project = int(self.ctx.project_id)
        by_day = any(a.kind == "days" for a in self.aggs)
        where = [f"e.project_id = {project}"]
        if all(a.names is not None for a in self.aggs):
            names = sorted({n for a in self.aggs for n in a.names or []})
            where.append(f"e.event IN ({', '.join(d.str_lit(n) for n in names)})")
        if all(a.start is not None for a in self.aggs):
            start = min(a.start for a in self.aggs if a.start is not None)
            where.append(f"e.timestamp >= {d.ts_lit(start)}")
        where.append(f"e.timestamp < {d.ts_lit(max(a.end for a in self.aggs))}")
        day = d.local_date("e.timestamp", self.ctx.timezone)
        inner, outer = [], []
        for i, a in enumerate(self.aggs, 1):
            if a.kind == "first":
                inner.append(f"min(CASE WHEN {a.cond} THEN e.timestamp END) AS c{i}")
                outer.append(f"min(s.c{i}) AS c{i}")
            else:
                inner.append(f"sum(CASE WHEN {a.cond} THEN 1 ELSE 0 END) AS c{i}")
                outer.append(
                    d.count_distinct(f"CASE WHEN s.c{i} > 0 THEN s.d END") + f" AS c{i}"
                    if a.kind == "days"
                    else f"sum(s.c{i}) AS c{i}"
                )
        keys = "e.distinct_id, e.person_id" + (f", {day}" if by_day else "")
        stage1 = (
            "SELECT e.distinct_id AS did, e.person_id AS epid"
            + (f", {day} AS d" if by_day else "")
            + f", {', '.join(inner)} FROM events e WHERE {' AND '.join(where)} GROUP BY {keys}"
        )
        pid = "coalesce(m.person_id, s.epid)"
        return (
            f"SELECT {pid} AS pid, {', '.join(outer)} FROM ({stage1}) s "
            f"LEFT JOIN ({person_map_sql(d, self.ctx)}) m ON m.distinct_id = s.did "
            f"GROUP BY {pid}"
        )

    def build(self, node: Any) -> str:
        anchored = self.anchored(node)
        self.pid = "a.pid" if anchored else "b.pid"
        where = self.predicate(node)
        if self.aggs and anchored:
            source = f"({self._aggregates_sql()}) a"
        elif self.aggs:
            source = (
                f"({universe_sql(self.dialect, self.ctx)}) b "
                f"LEFT JOIN ({self._aggregates_sql()}) a ON a.pid = b.pid"
            )
        else:
            source = f"({universe_sql(self.dialect, self.ctx)}) b"
        if self.needs_person:
            source += f" LEFT JOIN ({persons_sql(self.dialect, self.ctx)}) p ON p.id = {self.pid}"
        return f"SELECT {self.pid} AS person_id FROM {source} WHERE {where}"


def compile_segment(
    dialect: Dialect,
    ctx: ProjectContext,
    definition: Any,
    *,
    today: date | None = None,
    resolve: Resolver | None = None,
    segment_id: int | None = None,
) -> str:
    """SELECT person_id of every person matching ``definition`` (a parsed node or JSON
    data). ``resolve`` looks up ``in_segment`` references; ``segment_id`` is the segment
    being compiled, so a reference back to it is rejected as a cycle."""
    node = (
        definition if not isinstance(definition, dict | str) else dsl.parse_definition(definition)
    )
    stack = (segment_id,) if segment_id is not None else ()
    return _Compiler(dialect, ctx, today or ctx.today(), resolve, stack).build(node)

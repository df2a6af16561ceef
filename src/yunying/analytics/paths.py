"""Paths: the most frequent sequences of events after (or leading to) a chosen event.

Per person, the anchor is the first occurrence of the start event in the date range
(PostHog's rule). From it the person's events are walked in time order (or backwards for
``direction="before"``) until a gap longer than the session gap or ``steps`` events.
Everything is one set-based query (window functions over the person's events), so the
cost is the engine's, not a Python loop over events.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from yunying.analytics.common import DateRange, EventSelector
from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import PropertyFilter
from yunying.analytics.source import events_sql
from yunying.store.base import EventStore, rows
from yunying.store.dialect import Dialect


class PathsQuery(BaseModel):
    """Paths of persons after/before the first occurrence of ``start_event`` in the range."""

    kind: Literal["paths"] = "paths"
    start_event: EventSelector = Field(description="The anchor event (its first occurrence).")
    direction: Literal["after", "before"] = Field(
        default="after", description="after: what people do next; before: what led to it."
    )
    steps: int = Field(default=5, ge=1, le=10, description="Events shown after/before the anchor.")
    session_gap_minutes: int | None = Field(
        default=30,
        ge=1,
        le=7 * 24 * 60,
        description="A path ends at a gap longer than this between consecutive events; "
        "null = no limit.",
    )
    collapse_repeats: bool = Field(
        default=True, description="Merge consecutive repeats of one event into one step."
    )
    include_events: list[str] | None = Field(
        default=None, description="Only these events appear in paths (the anchor always does)."
    )
    exclude_events: list[str] = Field(
        default_factory=list, description="Events removed from paths before steps are counted."
    )
    date_range: DateRange = Field(
        default_factory=DateRange,
        description="Anchors and path events both come from these local days only.",
    )
    filters: list[PropertyFilter] = Field(
        default_factory=list, description="Applied to every event (anchor and path)."
    )


class PathNode(BaseModel):
    step: int = Field(description="0 = anchor; 1, 2, … after it; -1, -2, … before it.")
    event: str
    persons: int
    events: int = Field(description="Raw events in this node (collapsed repeats included).")
    dropoff: int = Field(description="Persons whose path ends here (no further step).")


class PathLink(BaseModel):
    source_step: int
    source_event: str
    target_step: int
    target_event: str
    persons: int
    events: int = Field(description="Raw events of the node further from the anchor.")


class StepDropoff(BaseModel):
    step: int
    persons: int
    continued: int
    dropoff: int


class PathsResult(BaseModel):
    direction: Literal["after", "before"]
    start_event: str
    persons: int = Field(description="Persons with the anchor event in the range.")
    nodes: list[PathNode]
    links: list[PathLink]
    dropoff: list[StepDropoff]


def _session_cut(gap_us: int) -> list[tuple[str, str]]:
    """``s`` → ``sc``: drop every event that lies past the person's first empty gap-wide bin.

    Bin k holds the events k to k+1 gaps away from the anchor. When bin k is empty, the
    events on either side of it are more than a gap apart, so the path has ended before
    it: what lies beyond can never be on the path. The cut is conservative (the windows
    below still find the exact session end); it only keeps the ordered window passes from
    sorting a person's whole month when their path ends in the first half hour (the
    30-day demo: 0.98M streamed events → 0.15M).
    """
    dist = "abs(tus - atus)"
    return [
        (
            "bins",
            "SELECT pid, bin, row_number() OVER (PARTITION BY pid ORDER BY bin) AS bn FROM "
            f"(SELECT DISTINCT pid, CAST(floor({dist} / {gap_us}) AS BIGINT) AS bin FROM s) d",
        ),
        # Bin 0 holds the anchor; the first run of consecutive bins ends at the first gap.
        ("cut", "SELECT pid, count(*) AS k FROM bins WHERE bin = bn - 1 GROUP BY pid"),
        (
            "sc",
            "SELECT s.pid AS pid, s.event AS event, s.tus AS tus, s.uuid AS uuid FROM s "
            f"INNER JOIN cut ON cut.pid = s.pid WHERE abs(s.tus - s.atus) < cut.k * {gap_us}",
        ),
    ]


def build_paths_sql(dialect: Dialect, ctx: ProjectContext, q: PathsQuery) -> str:
    """Rows (part, d, event, next_event, persons, events); d = distance from the anchor.

    part 0: nodes (d, event); part 1: links from distance d to d+1 (next_event at d+1).
    Distances run to ``steps + 1`` so drop-off at the last shown step is known. Times are
    integer microseconds (``tus``), so a gap of exactly the session gap is not a break.
    """
    d_from, d_to = q.date_range.resolve(ctx)
    start, end = ctx.day_range_utc(d_from, d_to)
    lit = dialect.str_lit
    micros = dialect.epoch_micros
    anchors = events_sql(
        dialect,
        ctx,
        start=start,
        end=end,
        event_names=[q.start_event.event],
        filters=[*q.start_event.filters, *q.filters],
    )
    names = None
    if q.include_events is not None:
        names = [*q.include_events, q.start_event.event]
    stream = events_sql(dialect, ctx, start=start, end=end, event_names=names, filters=q.filters)
    keep = ["TRUE"]
    if q.include_events is not None:
        inc = ", ".join(lit(n) for n in sorted(set(q.include_events))) or lit("")
        keep.append(f"e.event IN ({inc})")
    if q.exclude_events:
        exc = ", ".join(lit(n) for n in sorted(set(q.exclude_events)))
        keep.append(f"e.event NOT IN ({exc})")
    if q.direction == "after":
        side = "(e.tus > a.atus OR (e.tus = a.atus AND e.uuid > a.au))"
        order, gap = "tus, uuid", "tus - ptus"
    else:
        side = "(e.tus < a.atus OR (e.tus = a.atus AND e.uuid < a.au))"
        order, gap = "tus DESC, uuid DESC", "ptus - tus"
    brk = "0"
    ctes: list[tuple[str, str]] = [
        (
            "a",
            # pk: the person as a small integer (dense_rank is deterministic, so every copy
            # of this CTE that ClickHouse inlines numbers alike); the passes below hash and
            # sort on it instead of the 36-character person id.
            "SELECT pid, dense_rank() OVER (ORDER BY pid) AS pk, tus AS atus, uuid AS au FROM (\n"
            "    SELECT pid, tus, uuid, row_number() OVER (PARTITION BY pid ORDER BY tus, uuid)"
            " AS arn\n"
            f"    FROM (SELECT pid, {micros('ts')} AS tus, uuid FROM ({anchors}) x0) x\n"
            "  ) y WHERE arn = 1",
        ),
        (
            "s",
            "SELECT a.pk AS pid, e.event AS event, e.tus AS tus, e.uuid AS uuid, "
            "a.atus AS atus\n"
            f"  FROM (SELECT pid, event, {micros('ts')} AS tus, uuid FROM ({stream}) x1) e "
            "INNER JOIN a ON a.pid = e.pid\n"
            f"  WHERE e.uuid = a.au OR ({' AND '.join(keep)} AND {side})",
        ),
    ]
    source = "s"
    if q.session_gap_minutes is not None:
        gap_us = 60_000_000 * q.session_gap_minutes
        ctes += _session_cut(gap_us)
        source = "sc"
        brk = f"CASE WHEN rn > 1 AND {gap} > {gap_us} THEN 1 ELSE 0 END"
    new_step = "CASE WHEN rn = 1 OR event != pev THEN 1 ELSE 0 END" if q.collapse_repeats else "1"
    # One ordered pass numbers the events and looks one back; the running sums then
    # order by that number (an integer) instead of sorting on (tus, uuid) again.
    prev = f"OVER (PARTITION BY pid ORDER BY {order} ROWS BETWEEN 1 PRECEDING AND 1 PRECEDING)"
    running = "OVER (PARTITION BY pid ORDER BY rn ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    ctes += [
        (
            "o",
            f"SELECT pid, event, tus, row_number() OVER (PARTITION BY pid ORDER BY {order}) AS rn,"
            f"\n    max(tus) {prev} AS ptus, max(event) {prev} AS pev\n  FROM {source}",
        ),
        ("b", f"SELECT pid, event, rn, {brk} AS brk, {new_step} AS nst FROM o"),
        (
            "g",
            f"SELECT pid, event, sum(brk) {running} AS sess,\n    sum(nst) {running} AS stp\n"
            "  FROM b",
        ),
        (
            "p",
            "SELECT pid, stp - 1 AS d, event, count(*) AS nraw FROM g\n"
            f"  WHERE sess = 0 AND stp <= {q.steps + 1} GROUP BY pid, stp, event",
        ),
        ("nx", "SELECT pid, d - 1 AS pd, event AS nev, nraw AS nn FROM p WHERE d > 0"),
    ]
    return (
        "WITH " + ",\n".join(f"{name} AS (\n  {body}\n)" for name, body in ctes) + "\n"
        "SELECT part, d, event, next_event, persons, events FROM (\n"
        f"  SELECT 0 AS part, d, event, {lit('')} AS next_event, count(*) AS persons,\n"
        "    sum(nraw) AS events FROM p GROUP BY d, event\n"
        "  UNION ALL\n"
        "  SELECT 1 AS part, p.d AS d, p.event AS event, nx.nev AS next_event,\n"
        "    count(*) AS persons, sum(nx.nn) AS events\n"
        "  FROM p INNER JOIN nx ON nx.pid = p.pid AND nx.pd = p.d GROUP BY p.d, p.event, nx.nev\n"
        ") u ORDER BY part, d, event, next_event"
    )


def assemble_paths(q: PathsQuery, data: list[dict[str, Any]]) -> PathsResult:
    """Turn distances into signed steps, hide the look-ahead step, derive drop-offs."""
    sign = 1 if q.direction == "after" else -1
    node_rows = [r for r in data if int(r["part"]) == 0]
    link_rows = [r for r in data if int(r["part"]) == 1]
    out_links: dict[tuple[int, str], int] = {}
    for r in link_rows:
        key = (int(r["d"]), str(r["event"]))
        out_links[key] = out_links.get(key, 0) + int(r["persons"])
    per_step: dict[int, int] = {}
    for r in node_rows:
        per_step[int(r["d"])] = per_step.get(int(r["d"]), 0) + int(r["persons"])
    nodes = []
    for r in node_rows:
        d, event = int(r["d"]), str(r["event"])
        if d > q.steps:
            continue
        persons = int(r["persons"])
        nodes.append(
            PathNode(
                step=sign * d,
                event=event,
                persons=persons,
                events=int(r["events"]),
                dropoff=persons - out_links.get((d, event), 0),
            )
        )
    links = []
    for r in link_rows:
        d = int(r["d"])
        if d >= q.steps:
            continue
        near = (sign * d, str(r["event"]))
        far = (sign * (d + 1), str(r["next_event"]))
        source, target = (near, far) if sign > 0 else (far, near)
        links.append(
            PathLink(
                source_step=source[0],
                source_event=source[1],
                target_step=target[0],
                target_event=target[1],
                persons=int(r["persons"]),
                events=int(r["events"]),
            )
        )
    links.sort(key=lambda lk: (abs(lk.source_step), -lk.persons, lk.source_event, lk.target_event))
    nodes.sort(key=lambda n: (abs(n.step), -n.persons, n.event))
    dropoff = [
        StepDropoff(
            step=sign * d,
            persons=per_step[d],
            continued=per_step.get(d + 1, 0),
            dropoff=per_step[d] - per_step.get(d + 1, 0),
        )
        for d in sorted(per_step)
        if d <= q.steps
    ]
    return PathsResult(
        direction=q.direction,
        start_event=q.start_event.event,
        persons=per_step.get(0, 0),
        nodes=nodes,
        links=links,
        dropoff=dropoff,
    )


def run_paths(store: EventStore, ctx: ProjectContext, q: PathsQuery) -> PathsResult:
    return assemble_paths(q, rows(store.query(build_paths_sql(store.dialect, ctx, q))))

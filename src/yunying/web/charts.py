"""Plotly figures (plain JSON-able dicts) built from analytics results.

Pure functions: a result model plus a translate function in, a ``{"data", "layout"}`` dict
out. No plotly import is needed to build them (the browser bundle renders the dict), and
tests check the numbers in the figure against the result.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from yunying.analytics.aarrr import ChannelCount
from yunying.analytics.active_users import ActiveUsersResult
from yunying.analytics.common import NONE, OTHER
from yunying.analytics.funnels import FunnelResult, FunnelStep
from yunying.analytics.lifecycle import LifecycleResult
from yunying.analytics.paths import PathLink, PathsResult
from yunying.analytics.retention import RetentionAverage, RetentionCohort, RetentionResult
from yunying.analytics.stickiness import StickinessResult
from yunying.analytics.trends import TrendsResult

Figure = dict[str, Any]
Translate = Callable[..., str]

PALETTE = (
    "#3b6ff5", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6",
    "#06b6d4", "#ec4899", "#84cc16", "#f97316", "#64748b",
)  # fmt: skip
LIFECYCLE_COLORS = {
    "new": "#10b981",
    "returning": "#3b6ff5",
    "resurrecting": "#f59e0b",
    "dormant": "#ef4444",
}
MAX_FUNNEL_BREAKDOWNS = 8
MAX_SANKEY_LINKS = 40
MAX_NODE_LABEL = 16  # display columns (a CJK character counts two) before "…"
DAY_MS = 86_400_000

# Date axes: numbers only, so they read the same in every language (Plotly's own month
# names are English). (tick labels, hover label) per interval.
DATE_FORMATS = {
    "hour": ("%m-%d %H:%M", "%Y-%m-%d %H:%M"),
    "day": ("%m-%d", "%Y-%m-%d"),
    "week": ("%m-%d", "%Y-%m-%d"),
    "month": ("%Y-%m", "%Y-%m"),
}


def _x(value: date | datetime) -> str:
    return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()


def date_axis(interval: str, periods: Sequence[date | datetime] = ()) -> dict[str, Any]:
    """An x axis of dates with numeric labels (``%m-%d``, ``%Y-%m`` for months); the year
    shows when the range spans two years. Few periods get one tick each, so a three-day
    range never reads "03-01, 03-01, 03-02" (Plotly would tick every 12 hours)."""
    tick, hover = DATE_FORMATS.get(interval, DATE_FORMATS["day"])
    if interval in ("day", "week") and periods and periods[0].year != periods[-1].year:
        tick = "%Y-%m-%d"
    axis: dict[str, Any] = {"type": "date", "tickformat": tick, "hoverformat": hover}
    if periods and len(periods) <= 12:
        if interval == "month":
            axis["dtick"] = "M1"
        elif interval in ("day", "week"):
            axis["dtick"] = DAY_MS * (7 if interval == "week" else 1)
            axis["tick0"] = _x(periods[0])
    return axis


def layout(**extra: Any) -> dict[str, Any]:
    """Shared look: compact margins, legend below, no Plotly logo text."""
    base: dict[str, Any] = {
        "margin": {"l": 48, "r": 16, "t": 16, "b": 48},
        "legend": {"orientation": "h", "y": -0.2},
        "hovermode": "x unified",
        "autosize": True,
        "height": 360,
        "colorway": list(PALETTE),
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
    }
    base.update(extra)
    return base


def value_label(value: str | None, t: Translate) -> str:
    """A breakdown value for display ('$other' and '$none' translated)."""
    if value == OTHER:
        return t("insights.value.other")
    if value == NONE:
        return t("insights.value.none")
    return "" if value is None else value


def series_name(label: str, breakdown_value: str | None, t: Translate) -> str:
    if breakdown_value is None:
        return label
    return f"{label} · {value_label(breakdown_value, t)}"


def trends_figure(
    result: TrendsResult, t: Translate, *, chart: Literal["line", "bar"] = "line"
) -> Figure:
    """One trace per series (and breakdown value) over the periods."""
    data = []
    for s in result.series:
        trace: dict[str, Any] = {
            "type": "bar" if chart == "bar" else "scatter",
            "name": series_name(s.label, s.breakdown_value, t),
            "x": [_x(p) for p in s.periods],
            "y": list(s.values),
        }
        if chart != "bar":
            trace["mode"] = "lines+markers"
        data.append(trace)
    periods = result.series[0].periods if result.series else []
    return {
        "data": data,
        "layout": layout(barmode="group", xaxis=date_axis(result.interval, periods)),
    }


def active_users_figure(result: ActiveUsersResult, t: Translate) -> Figure:
    x = [_x(d) for d in result.days]
    data = [
        {"type": "scatter", "mode": "lines", "name": t(key), "x": x, "y": list(values)}
        for key, values in (
            ("overview.dau", result.dau),
            ("overview.wau", result.wau),
            ("overview.mau", result.mau),
        )
    ]
    return {"data": data, "layout": layout(xaxis=date_axis("day", result.days))}


def channels_figure(channels: Sequence[ChannelCount], t: Translate) -> Figure:
    """Horizontal bars, largest channel on top."""
    ordered = list(channels)[::-1]
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "name": t("overview.new_persons"),
                "x": [c.persons for c in ordered],
                "y": [c.channel for c in ordered],
            }
        ],
        "layout": layout(
            hovermode="closest", showlegend=False, margin={"l": 120, "r": 16, "t": 8, "b": 32}
        ),
    }


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def step_label(step: FunnelStep, t: Translate) -> str:
    """'2. signup'; unordered funnels (no event per step) read 'completed 2 steps'."""
    if step.event is None:
        return t("insights.funnel.completed_steps", n=step.step)
    return f"{step.step}. {step.name}"


def _funnel_trace(name: str, steps: list[FunnelStep], t: Translate) -> dict[str, Any]:
    return {
        "type": "bar",
        "name": name,
        "x": [step_label(s, t) for s in steps],
        "y": [s.count for s in steps],
        "text": [_pct(s.conversion_overall) for s in steps],
        "textposition": "auto",
        "customdata": [
            [_pct(s.conversion_from_previous), duration(s.median_time_seconds, t)] for s in steps
        ],
        "hovertemplate": (
            f"%{{y}} · {t('insights.funnel.overall')} %{{text}}<br>"
            f"{t('insights.funnel.from_previous')} %{{customdata[0]}}<br>"
            f"{t('insights.funnel.median_time')} %{{customdata[1]}}"
            "<extra>%{fullData.name}</extra>"
        ),
    }


def funnel_figure(result: FunnelResult, t: Translate) -> Figure:
    """Persons per step as bars, labelled with the overall conversion; with a breakdown,
    one group of bars per value (the largest few)."""
    if result.breakdown:
        data = [
            _funnel_trace(value_label(s.value, t), s.steps, t)
            for s in result.breakdown[:MAX_FUNNEL_BREAKDOWNS]
        ]
    else:
        data = [_funnel_trace(t("insights.funnel.persons"), result.steps, t)]
    return {"data": data, "layout": layout(barmode="group", hovermode="closest")}


def duration(seconds: float | None, t: Translate) -> str:
    """'3d 4h', '12m 5s' style, with translated unit letters; '' for None."""
    if seconds is None:
        return ""
    s = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if s >= size or (unit == "s" and not parts):
            parts.append(f"{s // size}{t('insights.unit.' + unit)}")
            s %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def short_label(text: str, limit: int = MAX_NODE_LABEL) -> str:
    """``text`` cut to ``limit`` display columns with "…" (CJK characters count two)."""
    if _width(text) <= limit:
        return text
    out, used = "", 0
    for ch in text:
        used += _width(ch)
        if used > limit - 1:
            break
        out += ch
    return out + "…"


def _ends(lk: PathLink, direction: str) -> tuple[tuple[int, str], tuple[int, str]]:
    """(anchor side, far side) of a link: paths after the anchor flow away from it,
    paths before it flow towards it."""
    source, target = (lk.source_step, lk.source_event), (lk.target_step, lk.target_event)
    return (source, target) if direction == "after" else (target, source)


def _kept_links(result: PathsResult) -> list[PathLink]:
    """The widest links that still hang together: a link is drawn only when the node on
    its anchor side is the anchor or reached by a drawn link, so no node floats in a
    column of its own (Plotly would lay such a node out as a new start)."""

    def order(lk: PathLink) -> tuple[int, int, str, str]:
        near, far = _ends(lk, result.direction)
        return (-lk.persons, abs(near[0]), near[1], far[1])

    widest = sorted(result.links, key=order)[:MAX_SANKEY_LINKS]
    reached = {(n.step, n.event) for n in result.nodes if n.step == 0}
    kept = []
    for lk in sorted(widest, key=lambda lk: abs(_ends(lk, result.direction)[0][0])):
        near, far = _ends(lk, result.direction)
        if near in reached:
            kept.append(lk)
            reached.add(far)
    return kept


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def _column_x(k: int, columns: int) -> float:
    """Columns k/n apart, the last one at the right edge: the gap before it is twice as
    wide, because Plotly writes the last column's labels to the left of its nodes, into
    the same gap as the labels of the column before."""
    if columns == 1:
        return 0.5
    x = 1.0 if k == columns - 1 else k / columns
    return round(min(max(x, 0.001), 0.999), 4)  # 0 would mean "no position" to Plotly


def _step_title(step: int, t: Translate) -> str:
    if step == 0:
        return t("insights.paths.col.start")
    key = "insights.paths.col.after" if step > 0 else "insights.paths.col.before"
    return t(key, n=abs(step))


def paths_figure(
    result: PathsResult, t: Translate, *, height: int = 440, label_limit: int = MAX_NODE_LABEL
) -> Figure:
    """A Sankey of the steps, one column per step: node = event, links weighted by persons.

    Every node gets its position: x by step (so a path that ends early stays in its own
    column instead of being pushed to the last one, Plotly's default), y stacked within
    the column the way Plotly sizes nodes, so labels never sit on each other. Labels are
    short (the full event name is in the hover), each column is titled with its step.
    An event has one colour in every column; a link takes the colour of the event it
    leads to (explicitly: Plotly's default link colour is white on a transparent paper).
    A narrow place (a dashboard tile) passes its ``height`` and a shorter ``label_limit``.
    Only the ``MAX_SANKEY_LINKS`` widest links are drawn (the table has them all): a
    Sankey with hundreds of one-person threads is unreadable.
    """
    kept = _kept_links(result)
    used = {(lk.source_step, lk.source_event) for lk in kept}
    used |= {(lk.target_step, lk.target_event) for lk in kept}
    nodes = [
        n
        for n in sorted(result.nodes, key=lambda n: (n.step, -n.persons, n.event))
        if (n.step, n.event) in used or n.step == 0
    ]
    index = {(n.step, n.event): i for i, n in enumerate(nodes)}
    inflow, outflow = [0] * len(nodes), [0] * len(nodes)
    source, target, weight, link_data = [], [], [], []
    for lk in kept:
        a, b = index[(lk.source_step, lk.source_event)], index[(lk.target_step, lk.target_event)]
        source.append(a)
        target.append(b)
        weight.append(lk.persons)
        outflow[a] += lk.persons
        inflow[b] += lk.persons
        link_data.append([lk.source_event, lk.target_event])
    flow = [max(i, o) for i, o in zip(inflow, outflow, strict=True)]
    totals: dict[str, int] = {}
    for n in nodes:
        totals[n.event] = totals.get(n.event, 0) + n.persons
    ranked = sorted(totals, key=lambda e: (-totals[e], e))
    color = {e: PALETTE[i % len(PALETTE)] for i, e in enumerate(ranked)}

    margin = {"l": 8, "r": 8, "t": 28, "b": 8}
    pad_px = 16
    pad = pad_px / max(1, height - margin["t"] - margin["b"])
    steps = sorted({n.step for n in nodes})
    columns = {s: [i for i, n in enumerate(nodes) if n.step == s] for s in steps}
    # Plotly scales node heights so the fullest column fits: the same scale here.
    scale = min(
        ((1 - (len(c) - 1) * pad) / sum(flow[i] for i in c) for c in columns.values()
         if sum(flow[i] for i in c)),
        default=0.0,
    )  # fmt: skip
    xs, ys = [0.5] * len(nodes), [0.5] * len(nodes)
    annotations = []
    for k, s in enumerate(steps):
        x = _column_x(k, len(steps))
        top = 0.0
        for i in columns[s]:
            h = flow[i] * scale
            xs[i], ys[i] = x, round(min(max(top + h / 2, 0.001), 0.999), 4)
            top += h + pad
        anchor = "left" if k == 0 else "right" if k == len(steps) - 1 else "center"
        annotations.append(
            {
                "text": _step_title(s, t), "x": x, "y": 1, "xref": "paper", "yref": "paper",
                "xanchor": anchor, "yanchor": "bottom", "yshift": 6, "showarrow": False,
                "font": {"size": 12, "color": "#626b7a"},
            }
        )  # fmt: skip
    persons = t("insights.paths.hover.persons")
    return {
        "data": [
            {
                "type": "sankey",
                "arrangement": "snap",
                "valueformat": ",d",
                "textfont": {"size": 11},
                "node": {
                    "label": [short_label(n.event, label_limit) for n in nodes],
                    "x": xs,
                    "y": ys,
                    "align": "left" if result.direction == "after" else "right",
                    "pad": pad_px,
                    "thickness": 14,
                    "color": [color[n.event] for n in nodes],
                    "line": {"width": 0},
                    "customdata": [[n.event, _step_title(n.step, t), n.persons] for n in nodes],
                    "hovertemplate": (
                        f"%{{customdata[1]}} · %{{customdata[0]}}<br>"
                        f"{persons} %{{customdata[2]:,d}}<extra></extra>"
                    ),
                },
                "link": {
                    "source": source,
                    "target": target,
                    "value": weight,
                    "color": [_rgba(color[lk.target_event], 0.35) for lk in kept],
                    "customdata": link_data,
                    "hovertemplate": (
                        f"%{{customdata[0]}} → %{{customdata[1]}}<br>{persons} %{{value:,d}}"
                        "<extra></extra>"
                    ),
                },
            }
        ],
        "layout": layout(
            hovermode="closest", height=height, margin=margin, annotations=annotations
        ),
    }


def lifecycle_figure(result: LifecycleResult, t: Translate) -> Figure:
    """Stacked bars: new, returning, resurrecting above zero; dormant below (negative)."""
    x = [_x(p) for p in result.periods]
    data = [
        {
            "type": "bar",
            "name": t(f"insights.lifecycle.{status}"),
            "x": x,
            "y": list(getattr(result, status)),
            "marker": {"color": LIFECYCLE_COLORS[status]},
        }
        for status in ("new", "returning", "resurrecting", "dormant")
    ]
    return {
        "data": data,
        "layout": layout(barmode="relative", xaxis=date_axis(result.interval, result.periods)),
    }


def stickiness_figure(result: StickinessResult, t: Translate) -> Figure:
    """Histogram: persons active in exactly k periods, k = 1 … total."""
    return {
        "data": [
            {
                "type": "bar",
                "name": t("insights.stickiness.persons"),
                "x": list(result.periods_active),
                "y": list(result.persons),
            }
        ],
        "layout": layout(
            hovermode="closest",
            showlegend=False,
            xaxis={"title": {"text": t(f"insights.stickiness.axis.{result.interval}")}, "dtick": 1},
        ),
    }


# ---- retention: a heat table, not a chart ---------------------------------------------


@dataclass(frozen=True)
class HeatCell:
    count: int
    pct: float | None  # percent of the cohort (0-100)
    alpha: float  # background intensity 0..1, from pct
    complete: bool  # False: the period has not ended yet (shown muted)


@dataclass(frozen=True)
class HeatRow:
    label: str
    breakdown_value: str | None
    size: int
    cells: list[HeatCell]


@dataclass(frozen=True)
class HeatTable:
    columns: list[int]  # 0 … periods
    rows: list[HeatRow]
    average: HeatRow


def _alpha(pct: float | None) -> float:
    return 0.0 if pct is None else round(min(max(pct, 0.0), 100.0) / 100.0, 3)


def _cohort_row(c: RetentionCohort, t: Translate) -> HeatRow:
    label = c.period_start.isoformat()
    return HeatRow(
        label=label,
        breakdown_value=None if c.breakdown_value is None else value_label(c.breakdown_value, t),
        size=c.size,
        cells=[
            HeatCell(
                count=n, pct=p if c.size else None, alpha=_alpha(p if c.size else None), complete=ok
            )
            for n, p, ok in zip(c.counts, c.percentages, c.complete, strict=True)
        ],
    )


def _average_row(a: RetentionAverage, t: Translate) -> HeatRow:
    return HeatRow(
        label=t("insights.retention.average"),
        breakdown_value=None if a.breakdown_value is None else value_label(a.breakdown_value, t),
        size=a.sizes[0] if a.sizes else 0,
        cells=[
            HeatCell(count=n, pct=p, alpha=_alpha(p), complete=p is not None)
            for n, p in zip(a.counts, a.percentages, strict=True)
        ],
    )


def retention_heat(result: RetentionResult, t: Translate) -> HeatTable:
    """Cohort rows (size, then count and percent per column) plus the weighted average."""
    return HeatTable(
        columns=list(range(result.periods + 1)),
        rows=[_cohort_row(c, t) for c in result.cohorts],
        average=_average_row(result.average, t),
    )


# ---- person activity calendar (a heat grid, not a chart) ------------------------------


@dataclass(frozen=True)
class CalendarDay:
    day: date
    events: int
    level: int  # 0 (none) … 4 (busiest quarter of the active days)


def activity_calendar(
    counts: Sequence[tuple[date, int]], week_start: int = 1
) -> list[list[CalendarDay | None]]:
    """Weeks (columns) of 7 days (rows, from ``week_start``); None pads the first and last
    week. Levels split the person's own busiest day into quarters."""
    if not counts:
        return []
    top = max(n for _, n in counts) or 1
    weeks: list[list[CalendarDay | None]] = []
    first = counts[0][0]
    pad = (first.isoweekday() - week_start) % 7
    week: list[CalendarDay | None] = [None] * pad
    for day, n in counts:
        level = 0 if n == 0 else min(4, 1 + (4 * n - 1) // top)
        week.append(CalendarDay(day, n, level))
        if len(week) == 7:
            weeks.append(week)
            week = []
    if week:
        weeks.append(week + [None] * (7 - len(week)))
    return weeks

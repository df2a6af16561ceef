"""Plotly figures (plain JSON-able dicts) built from analytics results.

Pure functions: a result model plus a translate function in, a ``{"data", "layout"}`` dict
out. No plotly import is needed to build them (the browser bundle renders the dict), and
tests check the numbers in the figure against the result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from yunying.analytics.aarrr import ChannelCount
from yunying.analytics.active_users import ActiveUsersResult
from yunying.analytics.common import NONE, OTHER
from yunying.analytics.funnels import FunnelResult, FunnelStep
from yunying.analytics.lifecycle import LifecycleResult
from yunying.analytics.paths import PathsResult
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


def _x(value: date | datetime) -> str:
    return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()


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
    return {"data": data, "layout": layout(barmode="group")}


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
    return {"data": data, "layout": layout()}


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


def paths_figure(result: PathsResult, t: Translate) -> Figure:
    """A Sankey of the steps: node 'step · event', links weighted by persons.

    Only the ``MAX_SANKEY_LINKS`` widest links are drawn (the table has them all): a
    Sankey with hundreds of one-person threads is unreadable.
    """
    kept = sorted(result.links, key=lambda lk: -lk.persons)[:MAX_SANKEY_LINKS]
    used = {(lk.source_step, lk.source_event) for lk in kept}
    used |= {(lk.target_step, lk.target_event) for lk in kept}
    index: dict[tuple[int, str], int] = {}
    labels: list[str] = []
    values: list[int] = []
    for n in sorted(result.nodes, key=lambda n: (n.step, -n.persons, n.event)):
        if (n.step, n.event) in used or n.step == 0:
            index[(n.step, n.event)] = len(labels)
            labels.append(f"{n.step} · {n.event}" if n.step else n.event)
            values.append(n.persons)
    source, target, weight = [], [], []
    for lk in kept:
        a, b = (lk.source_step, lk.source_event), (lk.target_step, lk.target_event)
        if a in index and b in index:
            source.append(index[a])
            target.append(index[b])
            weight.append(lk.persons)
    return {
        "data": [
            {
                "type": "sankey",
                "arrangement": "snap",
                "node": {"label": labels, "pad": 14, "thickness": 14, "customdata": values},
                "link": {"source": source, "target": target, "value": weight},
            }
        ],
        "layout": layout(hovermode="closest", height=440),
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
    return {"data": data, "layout": layout(barmode="relative")}


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

"""The table beneath each insight chart, and the same table as CSV.

One builder per result kind gives a ``Table`` of ``Cell``s: the page shows ``text``, the
CSV export writes ``value`` (plain numbers, rates as fractions), so the export is exactly
what the page shows, minus the formatting.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from yunying.analytics.funnels import FunnelResult, FunnelStep
from yunying.analytics.lifecycle import LifecycleResult
from yunying.analytics.paths import PathsResult
from yunying.analytics.retention import RetentionResult
from yunying.analytics.stickiness import StickinessResult
from yunying.analytics.trends import TrendsResult
from yunying.web.charts import Translate, duration, series_name, step_label, value_label


@dataclass
class Cell:
    text: str
    value: Any
    href: str | None = None
    num: bool = False
    testid: str | None = None


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    testid: str = "result-table"
    shown: int | None = None  # the page shows this many rows (the CSV has them all)

    @property
    def visible(self) -> list[list[Cell]]:
        return self.rows if self.shown is None else self.rows[: self.shown]


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction (0.25) as '25.0%'; '—' when undefined."""
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def change(value: float | None) -> str:
    """A relative change as '+12.5%' / '-3.0%'; '—' when undefined."""
    return "—" if value is None else f"{100 * value:+.1f}%"


def _n(value: float | int | None, digits: int = 0) -> Cell:
    return Cell(number(value, digits), value, num=True)


def _rate(value: float | None) -> Cell:
    return Cell(pct(value), None if value is None else round(value, 6), num=True)


def _period(value: date | datetime) -> str:
    return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()


def trends_table(result: TrendsResult, t: Translate) -> Table:
    periods = result.series[0].periods if result.series else []
    digits = 0 if result.math in ("total", "unique_persons") else 2
    table = Table([t("insights.col.series"), t("insights.col.total")])
    table.columns += [_period(p) for p in periods]
    for i, s in enumerate(result.series):
        name = series_name(s.label, s.breakdown_value, t)
        row = [Cell(name, name, testid=f"series-{i}"), _n(s.aggregate, digits)]
        row += [_n(v, digits) for v in s.values]
        table.rows.append(row)
    return table


def retention_table(result: RetentionResult, t: Translate) -> Table:
    """Counts and percentages per column (the page shows the heat table instead)."""
    cols = range(result.periods + 1)
    table = Table([t("insights.col.cohort"), t("insights.col.breakdown"), t("insights.col.size")])
    table.columns += [t("insights.col.period_n", n=k) for k in cols]
    table.columns += [t("insights.col.period_pct", n=k) for k in cols]
    for c in result.cohorts:
        row = [
            Cell(c.period_start.isoformat(), c.period_start.isoformat()),
            Cell(value_label(c.breakdown_value, t), c.breakdown_value or ""),
            _n(c.size),
        ]
        row += [_n(n) for n in c.counts]
        row += [Cell(f"{p:.1f}%", round(p, 4), num=True) for p in c.percentages]
        table.rows.append(row)
    return table


StepLink = Callable[[int, bool, str | None], str]


def _funnel_rows(steps: list[FunnelStep], link: StepLink | None, value: str | None) -> list:
    rows = []
    for s in steps:
        persons = _n(s.count)
        dropped = _n(s.dropped_after)
        if link is not None and s.count:
            persons.href = link(s.step, False, value)
            persons.testid = f"step-{s.step}-persons"
            if s.dropped_after:
                dropped.href = link(s.step, True, value)
                dropped.testid = f"step-{s.step}-dropped"
        rows.append((s, persons, dropped))
    return rows


def funnel_table(result: FunnelResult, t: Translate, link: StepLink | None = None) -> Table:
    """One row per step (and per breakdown value); persons link to the people list."""
    table = Table(
        [
            t("insights.col.breakdown"),
            t("insights.col.step"),
            t("insights.col.persons"),
            t("insights.col.conversion_previous"),
            t("insights.col.conversion_overall"),
            t("insights.col.dropped"),
            t("insights.col.median_time"),
            t("insights.col.average_time"),
        ]
    )
    groups: list[tuple[str | None, list[FunnelStep]]] = [(None, result.steps)]
    groups += [(s.value, s.steps) for s in result.breakdown]
    for value, steps in groups:
        label = t("insights.value.all") if value is None else value_label(value, t)
        for s, persons, dropped in _funnel_rows(steps, link, value):
            name = step_label(s, t)
            table.rows.append(
                [
                    Cell(label, value or ""),
                    Cell(name, name),
                    persons,
                    _rate(s.conversion_from_previous),
                    _rate(s.conversion_overall),
                    dropped,
                    Cell(duration(s.median_time_seconds, t), s.median_time_seconds, num=True),
                    Cell(duration(s.average_time_seconds, t), s.average_time_seconds, num=True),
                ]
            )
    return table


PATH_ROWS_SHOWN = 50


def paths_table(result: PathsResult, t: Translate) -> Table:
    table = Table(
        [
            t("insights.col.from_step"),
            t("insights.col.from_event"),
            t("insights.col.to_step"),
            t("insights.col.to_event"),
            t("insights.col.persons"),
        ],
        shown=PATH_ROWS_SHOWN,
    )
    for lk in result.links:
        table.rows.append(
            [
                _n(lk.source_step),
                Cell(lk.source_event, lk.source_event),
                _n(lk.target_step),
                Cell(lk.target_event, lk.target_event),
                _n(lk.persons),
            ]
        )
    return table


def paths_dropoff_table(result: PathsResult, t: Translate) -> Table:
    table = Table(
        [
            t("insights.col.step"),
            t("insights.col.persons"),
            t("insights.col.continued"),
            t("insights.col.dropped"),
        ],
        testid="dropoff-table",
    )
    for d in result.dropoff:
        table.rows.append([_n(d.step), _n(d.persons), _n(d.continued), _n(d.dropoff)])
    return table


def lifecycle_table(result: LifecycleResult, t: Translate) -> Table:
    statuses = ("new", "returning", "resurrecting", "dormant")
    table = Table([t("insights.col.period")] + [t(f"insights.lifecycle.{s}") for s in statuses])
    for i, p in enumerate(result.periods):
        row = [Cell(_period(p), _period(p))]
        row += [_n(getattr(result, s)[i]) for s in statuses]
        table.rows.append(row)
    return table


def stickiness_table(result: StickinessResult, t: Translate) -> Table:
    table = Table(
        [
            t(f"insights.stickiness.axis.{result.interval}"),
            t("insights.col.persons"),
            t("insights.col.cumulative"),
            t("insights.col.share"),
        ]
    )
    total = result.total_persons
    for k, n, c in zip(result.periods_active, result.persons, result.cumulative, strict=True):
        table.rows.append([_n(k), _n(n), _n(c), _rate(n / total if total else None)])
    return table


def to_csv(table: Table) -> str:
    """CSV with a UTF-8 BOM, so spreadsheet programs read Chinese headers correctly."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(["" if c.value is None else c.value for c in row])
    return "\ufeff" + out.getvalue()

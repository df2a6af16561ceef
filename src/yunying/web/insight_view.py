"""What an insight page (or dashboard tile) shows for one result: chart, tables, summary.

Shared by the insight pages, saved insights, dashboard tiles and CSV export, so a tile and
its insight page can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from yunying.analytics.funnels import FunnelResult
from yunying.analytics.lifecycle import LifecycleResult
from yunying.analytics.paths import PathsResult
from yunying.analytics.retention import RetentionResult
from yunying.analytics.stickiness import StickinessResult
from yunying.analytics.trends import TrendsResult
from yunying.web import charts, tables
from yunying.web.charts import HeatTable, Translate
from yunying.web.forms import Options
from yunying.web.tables import StepLink, Table


@dataclass
class InsightView:
    kind: str
    result: BaseModel
    figure: dict[str, Any] | None = None
    heat: HeatTable | None = None
    tables: list[Table] = field(default_factory=list)
    summary: list[tuple[str, str]] = field(default_factory=list)  # (label, value) facts

    @property
    def export_table(self) -> Table:
        return self.tables[0]


def build_view(
    kind: str,
    result: BaseModel,
    t: Translate,
    *,
    options: Options | None = None,
    step_link: StepLink | None = None,
) -> InsightView:
    options = options or Options()
    view = InsightView(kind=kind, result=result)
    if isinstance(result, TrendsResult):
        chart = "bar" if options.chart == "bar" else "line"
        view.figure = charts.trends_figure(result, t, chart=chart)
        view.tables = [tables.trends_table(result, t)]
    elif isinstance(result, RetentionResult):
        view.heat = charts.retention_heat(result, t)
        view.tables = [tables.retention_table(result, t)]
    elif isinstance(result, FunnelResult):
        view.figure = charts.funnel_figure(result, t)
        view.tables = [tables.funnel_table(result, t, step_link)]
        view.summary = [
            (t("insights.funnel.conversion_rate"), tables.pct(result.conversion_rate)),
            (t("insights.funnel.entered"), tables.number(result.steps[0].count)),
        ]
    elif isinstance(result, PathsResult):
        view.figure = charts.paths_figure(result, t)
        view.tables = [tables.paths_table(result, t), tables.paths_dropoff_table(result, t)]
        view.summary = [(t("insights.paths.persons"), tables.number(result.persons))]
    elif isinstance(result, LifecycleResult):
        view.figure = charts.lifecycle_figure(result, t)
        view.tables = [tables.lifecycle_table(result, t)]
    elif isinstance(result, StickinessResult):
        view.figure = charts.stickiness_figure(result, t)
        view.tables = [tables.stickiness_table(result, t)]
        view.summary = [(t("insights.stickiness.total"), tables.number(result.total_persons))]
    else:  # pragma: no cover - every insight kind is handled above
        raise TypeError(f"no view for {type(result).__name__}")
    return view


def compact(view: InsightView) -> InsightView:
    """A dashboard tile: smaller chart, no tables."""
    if view.figure is not None:
        figure = {**view.figure, "layout": {**view.figure["layout"], "height": 280}}
        view = InsightView(view.kind, view.result, figure, view.heat, [], view.summary)
    return view

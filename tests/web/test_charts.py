"""Figures and tables from analytics results: the numbers in them are the result's
numbers, and Plotly accepts every figure."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import plotly.graph_objects as go
import pytest

from yunying.analytics.aarrr import ChannelCount
from yunying.analytics.active_users import ActiveUsersResult, Change
from yunying.analytics.funnels import FunnelResult, FunnelSeries, FunnelStep
from yunying.analytics.lifecycle import LifecycleResult
from yunying.analytics.paths import PathLink, PathNode, PathsResult, StepDropoff
from yunying.analytics.retention import RetentionAverage, RetentionCohort, RetentionResult
from yunying.analytics.stickiness import StickinessResult
from yunying.analytics.trends import TrendsResult, TrendsSeries
from yunying.web import charts, tables
from yunying.web.i18n import translate


def t(key: str, /, **params: object) -> str:
    return translate("en", key, **params)


D = [date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3)]


def valid(fig: dict) -> dict:
    go.Figure(fig)  # raises on an unknown property or a bad value
    return fig


def trends() -> TrendsResult:
    return TrendsResult(
        interval="day", math="total", date_from=D[0], date_to=D[-1],
        series=[
            TrendsSeries(series_index=0, label="view", event="view", breakdown_value="ios",
                         periods=D, values=[1, 2, 3], aggregate=6),
            TrendsSeries(series_index=0, label="view", event="view", breakdown_value="$other",
                         periods=D, values=[0, 1, 0], aggregate=1),
        ],
    )  # fmt: skip


@pytest.mark.parametrize("chart", ["line", "bar"])
def test_trends_figure_and_table(chart: str) -> None:
    fig = valid(charts.trends_figure(trends(), t, chart=chart))  # type: ignore[arg-type]
    assert [tr["type"] for tr in fig["data"]] == ["scatter" if chart == "line" else "bar"] * 2
    assert fig["data"][0]["x"] == ["2024-03-01", "2024-03-02", "2024-03-03"]
    assert [tr["y"] for tr in fig["data"]] == [[1, 2, 3], [0, 1, 0]]
    assert [tr["name"] for tr in fig["data"]] == ["view · ios", "view · Other"]
    table = tables.trends_table(trends(), t)
    assert table.columns == ["Series", "Total", "2024-03-01", "2024-03-02", "2024-03-03"]
    assert [c.value for c in table.rows[0]] == ["view · ios", 6, 1, 2, 3]
    assert tables.to_csv(table).startswith("\ufeffSeries,Total,2024-03-01")


def test_retention_heat_table() -> None:
    result = RetentionResult(
        retention_type="recurring", period="day", periods=2, mode="on",
        cohorts=[
            RetentionCohort(period_start=D[0], size=4, counts=[4, 2, 1],
                            percentages=[100.0, 50.0, 25.0], complete=[True, True, False]),
            RetentionCohort(period_start=D[1], size=0, counts=[0, 0, 0],
                            percentages=[0.0, 0.0, 0.0], complete=[True, False, False]),
        ],
        average=RetentionAverage(sizes=[4, 4, 0], counts=[4, 2, 0],
                                 percentages=[100.0, 50.0, None]),
    )  # fmt: skip
    heat = charts.retention_heat(result, t)
    assert heat.columns == [0, 1, 2]
    first = heat.rows[0]
    assert (first.label, first.size) == ("2024-03-01", 4)
    assert [(c.count, c.pct, c.alpha, c.complete) for c in first.cells] == [
        (4, 100.0, 1.0, True), (2, 50.0, 0.5, True), (1, 25.0, 0.25, False),
    ]  # fmt: skip
    assert heat.rows[1].cells[1].pct is None  # an empty cohort has no percentage
    assert heat.average.label == "Average" and heat.average.cells[2].pct is None
    csv_rows = tables.retention_table(result, t).rows
    assert [c.value for c in csv_rows[0]] == ["2024-03-01", "", 4, 4, 2, 1, 100.0, 50.0, 25.0]


def _step(k: int, name: str, count: int, prev: int, first: int, nxt: int) -> FunnelStep:
    return FunnelStep(
        step=k, name=name, event=name, count=count,
        conversion_from_previous=count / prev, conversion_overall=count / first,
        median_time_seconds=None if k == 1 else 3725.0,
        average_time_seconds=None if k == 1 else 4000.0, dropped_after=count - nxt,
    )  # fmt: skip


def test_funnel_figure_table_and_step_links() -> None:
    steps = [_step(1, "signup", 10, 10, 10, 4), _step(2, "pay", 4, 10, 10, 4)]
    steps[1].dropped_after = 0
    result = FunnelResult(
        mode="ordered", date_from="2024-03-01", date_to="2024-03-03", window_seconds=86400,
        steps=steps, conversion_rate=0.4,
        breakdown=[FunnelSeries(value="$none", steps=steps, conversion_rate=0.4)],
    )  # fmt: skip
    fig = valid(charts.funnel_figure(result, t))
    assert fig["data"][0]["y"] == [10, 4] and fig["data"][0]["text"] == ["100.0%", "40.0%"]
    assert fig["data"][0]["name"] == "(none)"
    assert fig["data"][0]["customdata"][1] == ["40.0%", "1h 2m"]
    links = []
    table = tables.funnel_table(
        result, t, lambda s, d, v: links.append((s, d, v)) or f"/x/{s}/{int(d)}/{v}"
    )
    assert [c.text for c in table.rows[0]][:6] == [
        "All people", "1. signup", "10", "100.0%", "100.0%", "6",
    ]  # fmt: skip
    assert table.rows[0][2].href == "/x/1/0/None" and table.rows[0][5].href == "/x/1/1/None"
    assert table.rows[1][5].href is None  # nobody drops after the last step
    assert table.rows[1][6].text == "1h 2m" and table.rows[1][6].value == 3725.0
    assert table.rows[2][0].text == "(none)" and table.rows[2][2].href == "/x/1/0/$none"


def test_paths_sankey() -> None:
    result = PathsResult(
        direction="after", start_event="signup", persons=5,
        nodes=[
            PathNode(step=0, event="signup", persons=5, events=5, dropoff=1),
            PathNode(step=1, event="view", persons=3, events=4, dropoff=3),
            PathNode(step=1, event="pay", persons=1, events=1, dropoff=1),
        ],
        links=[
            PathLink(source_step=0, source_event="signup", target_step=1, target_event="view",
                     persons=3, events=4),
            PathLink(source_step=0, source_event="signup", target_step=1, target_event="pay",
                     persons=1, events=1),
        ],
        dropoff=[StepDropoff(step=0, persons=5, continued=4, dropoff=1)],
    )  # fmt: skip
    fig = valid(charts.paths_figure(result, t))
    sankey = fig["data"][0]
    assert sankey["type"] == "sankey"
    assert sankey["node"]["label"] == ["signup", "view", "pay"]  # the column names the step
    assert [c[:2] for c in sankey["node"]["customdata"]] == [
        ["signup", "Start event"], ["view", "Step 1"], ["pay", "Step 1"],
    ]  # fmt: skip
    link = sankey["link"]
    assert (link["source"], link["target"], link["value"]) == ([0, 0], [1, 2], [3, 1])
    assert link["customdata"] == [["signup", "view"], ["signup", "pay"]]
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["Start event", "Step 1"]
    assert [c.value for c in tables.paths_table(result, t).rows[0]] == [0, "signup", 1, "view", 3]


def _path(step: int, event: str, persons: int) -> PathNode:
    return PathNode(step=step, event=event, persons=persons, events=persons, dropoff=0)


def _link(a: tuple[int, str], b: tuple[int, str], persons: int) -> PathLink:
    return PathLink(source_step=a[0], source_event=a[1], target_step=b[0], target_event=b[1],
                    persons=persons, events=persons)  # fmt: skip


def test_paths_sankey_gives_every_step_its_own_column() -> None:
    """A path that stops early stays in its step's column (Plotly would push the dead end
    to the last one), nodes of a column never overlap, long names are cut for the label
    and kept whole for the hover."""
    long_name = "checkout_payment_confirmation_shown"
    result = PathsResult(
        direction="after", start_event="open", persons=10,
        nodes=[_path(0, "open", 10), _path(1, "view", 6), _path(1, long_name, 3),
               _path(1, "quit", 1), _path(2, "view", 4), _path(2, "share", 2),
               _path(3, "pay", 3)],
        links=[_link((0, "open"), (1, "view"), 6), _link((0, "open"), (1, long_name), 3),
               _link((0, "open"), (1, "quit"), 1), _link((1, "view"), (2, "view"), 4),
               _link((1, long_name), (2, "share"), 2), _link((2, "view"), (3, "pay"), 3)],
        dropoff=[],
    )  # fmt: skip
    fig = valid(charts.paths_figure(result, t))
    node = fig["data"][0]["node"]
    assert fig["data"][0]["arrangement"] in ("fixed", "snap") and node["align"] == "left"
    steps = [c[1] for c in node["customdata"]]
    column_x = {}
    for step, x in zip(steps, node["x"], strict=True):
        assert column_x.setdefault(step, x) == x  # one x per step
    xs = [column_x[k] for k in ("Start event", "Step 1", "Step 2", "Step 3")]
    assert xs == sorted(xs) and len(set(xs)) == 4 and 0 < xs[0] < 0.01 and 0.99 < xs[-1] < 1
    quit_at = node["customdata"].index(["quit", "Step 1", 1])
    assert node["x"][quit_at] == column_x["Step 1"]  # the dead end is not pushed right
    # Within a column, the centres are far enough apart for the nodes and the padding.
    for step in set(steps):
        ys = sorted(y for s, y in zip(steps, node["y"], strict=True) if s == step)
        assert all(0 < y < 1 for y in ys)
        assert all(b - a > 0.03 for a, b in pairwise(ys)), (step, ys)
    at = [c[0] for c in node["customdata"]].index(long_name)
    cut = node["label"][at]
    assert cut.endswith("…") and len(cut) <= charts.MAX_NODE_LABEL
    assert long_name.startswith(cut[:-1]) and node["customdata"][at] == [long_name, "Step 1", 3]


def test_paths_sankey_before_the_anchor_and_only_connected_links() -> None:
    result = PathsResult(
        direction="before", start_event="pay", persons=4,
        nodes=[_path(0, "pay", 4), _path(-1, "cart", 3), _path(-1, "view", 1),
               _path(-2, "view", 2)],
        links=[_link((-1, "cart"), (0, "pay"), 3), _link((-1, "view"), (0, "pay"), 1),
               _link((-2, "view"), (-1, "cart"), 2)],
        dropoff=[],
    )  # fmt: skip
    fig = valid(charts.paths_figure(result, t))
    node = fig["data"][0]["node"]
    assert node["align"] == "right"  # the anchor is the last column
    x_of = {(c[1], c[0]): x for c, x in zip(node["customdata"], node["x"], strict=True)}
    assert x_of[("2 before", "view")] < x_of[("1 before", "cart")] < x_of[("Start event", "pay")]
    assert [a["text"] for a in fig["layout"]["annotations"]] == [
        "2 before", "1 before", "Start event",
    ]  # fmt: skip
    # A link whose anchor-side node is not drawn is left out, not drawn floating.
    orphan = result.model_copy(update={"links": [_link((-2, "view"), (-1, "cart"), 2)]})
    lonely = charts.paths_figure(orphan, t)["data"][0]
    assert lonely["link"]["source"] == [] and lonely["node"]["label"] == ["pay"]


def test_short_label_counts_wide_characters_twice() -> None:
    assert charts.short_label("signup") == "signup"
    assert charts.short_label("a" * 20, 8) == "aaaaaaa…"
    assert charts.short_label("内容详情页浏览事件", 8) == "内容详…"


def test_date_axes_are_numeric_in_every_language() -> None:
    fig = valid(charts.trends_figure(trends(), t))
    axis = fig["layout"]["xaxis"]
    assert (axis["type"], axis["tickformat"], axis["hoverformat"]) == (
        "date", "%m-%d", "%Y-%m-%d",
    )  # fmt: skip
    assert axis["dtick"] == 86_400_000  # three days: one tick each, never 12-hourly
    months = [date(2024, m, 1) for m in range(1, 4)]
    lifecycle = LifecycleResult(
        interval="month", date_from=months[0], date_to=date(2024, 3, 31), periods=months,
        new=[1, 1, 1], returning=[0, 1, 1], resurrecting=[0, 0, 0], dormant=[0, 0, -1],
    )  # fmt: skip
    axis = valid(charts.lifecycle_figure(lifecycle, t))["layout"]["xaxis"]
    assert (axis["tickformat"], axis["hoverformat"], axis["dtick"]) == ("%Y-%m", "%Y-%m", "M1")
    assert charts.date_axis("day", [date(2023, 12, 30), date(2024, 1, 2)])["tickformat"] == (
        "%Y-%m-%d"
    )
    assert charts.date_axis("hour")["tickformat"] == "%m-%d %H:%M"
    zh = charts.trends_figure(trends(), lambda k, /, **p: translate("zh-CN", k, **p))
    assert zh["layout"]["xaxis"] == fig["layout"]["xaxis"]


def test_lifecycle_stacks_with_dormant_below_zero() -> None:
    result = LifecycleResult(
        interval="day", date_from=D[0], date_to=D[-1], periods=D,
        new=[3, 1, 0], returning=[0, 2, 1], resurrecting=[0, 0, 1], dormant=[0, -1, -2],
    )  # fmt: skip
    fig = valid(charts.lifecycle_figure(result, t))
    assert fig["layout"]["barmode"] == "relative"
    by_name = {tr["name"]: tr["y"] for tr in fig["data"]}
    assert by_name == {"New": [3, 1, 0], "Returning": [0, 2, 1], "Resurrecting": [0, 0, 1],
                       "Dormant": [0, -1, -2]}  # fmt: skip
    assert all(v <= 0 for v in by_name["Dormant"])
    assert [c.value for c in tables.lifecycle_table(result, t).rows[1]] == [
        "2024-03-02",
        1,
        2,
        0,
        -1,
    ]


def test_stickiness_histogram() -> None:
    result = StickinessResult(
        interval="day", interval_count=1, date_from=D[0], date_to=D[-1], total_periods=3,
        periods_active=[1, 2, 3], persons=[5, 3, 2], cumulative=[10, 5, 2], total_persons=10,
    )  # fmt: skip
    fig = valid(charts.stickiness_figure(result, t))
    assert fig["data"][0]["x"] == [1, 2, 3] and fig["data"][0]["y"] == [5, 3, 2]
    assert fig["layout"]["xaxis"]["title"]["text"] == "Days active"
    row = tables.stickiness_table(result, t).rows[0]
    assert [c.value for c in row] == [1, 5, 10, 0.5] and row[3].text == "50.0%"


def test_overview_figures() -> None:
    active = ActiveUsersResult(
        days=D, dau=[1, 2, 3], wau=[1, 2, 4], mau=[1, 3, 5], dau_mau=[1.0, 2 / 3, 0.6],
        dau_change=Change(current=3, previous=2, change=0.5),
        wau_change=Change(current=4, previous=0, change=None),
        mau_change=Change(current=5, previous=5, change=0.0),
    )  # fmt: skip
    fig = valid(charts.active_users_figure(active, t))
    assert [tr["name"] for tr in fig["data"]] == ["DAU", "WAU", "MAU"]
    assert fig["layout"]["xaxis"]["tickformat"] == "%m-%d"
    assert [tr["y"] for tr in fig["data"]] == [[1, 2, 3], [1, 2, 4], [1, 3, 5]]
    channels = [ChannelCount(channel="douyin", persons=7), ChannelCount(channel="seo", persons=2)]
    bars = valid(charts.channels_figure(channels, t))["data"][0]
    assert bars["y"] == ["seo", "douyin"] and bars["x"] == [2, 7]  # largest on top


def test_activity_calendar_weeks() -> None:
    counts = [(date(2024, 3, d), n) for d, n in [(6, 0), (7, 4), (8, 1), (9, 0), (10, 2), (11, 3)]]
    weeks = charts.activity_calendar(counts, week_start=1)
    assert len(weeks) == 2 and all(len(w) == 7 for w in weeks)
    assert weeks[0][:2] == [None, None]  # 2024-03-06 is a Wednesday
    assert [(c.day.day, c.level) for c in weeks[0][2:]] == [(6, 0), (7, 4), (8, 1), (9, 0), (10, 2)]
    assert weeks[1][0].day == date(2024, 3, 11) and weeks[1][1:] == [None] * 6
    assert charts.activity_calendar([]) == []


def test_formatting_helpers() -> None:
    assert tables.pct(0.1234) == "12.3%" and tables.pct(None) == "—"
    assert tables.change(0.5) == "+50.0%" and tables.change(-0.031) == "-3.1%"
    assert tables.number(1234567) == "1,234,567" and tables.number(2.5, 2) == "2.50"
    assert charts.duration(59, t) == "59s" and charts.duration(90061, t) == "1d 1h"
    assert charts.duration(None, t) == ""

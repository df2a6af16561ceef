"""The channel page's figures and table, built from a ``ChannelReport``.

Pure functions like ``web.charts`` (report + translate in, Plotly dict or ``Table`` out);
kept apart from the shared charts module so this area changes without touching it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from yunying.people.channels import TOTAL, ChannelMetrics, ChannelReport
from yunying.web.charts import Figure, Translate, date_axis, layout
from yunying.web.tables import Cell, Table, number, pct

MAX_STACKED = 8  # channels drawn on their own in the stacked chart; the rest are "other"


def channel_label(channel: str, t: Translate) -> str:
    if channel == TOTAL:
        return t("channels.total")
    if channel == "direct":
        return t("channels.direct")
    return channel


def new_persons_figure(report: ChannelReport, t: Translate) -> Figure:
    """New persons per period, one stacked bar segment per channel (largest first)."""
    x = [p.isoformat() for p in report.periods]
    shown = report.series[:MAX_STACKED]
    rest = report.series[MAX_STACKED:]
    data: list[dict[str, Any]] = [
        {"type": "bar", "name": channel_label(s.channel, t), "x": x, "y": list(s.values)}
        for s in shown
    ]
    if rest:
        other = [sum(s.values[i] for s in rest) for i in range(len(x))]
        data.append({"type": "bar", "name": t("channels.other"), "x": x, "y": other})
    return {
        "data": data,
        "layout": layout(barmode="stack", xaxis=date_axis(report.interval, report.periods)),
    }


def _with_costs(report: ChannelReport) -> list[ChannelMetrics]:
    return [c for c in report.channels if c.cost is not None]


def cac_retention_figure(report: ChannelReport, t: Translate) -> Figure:
    """Each costed channel at (CAC, D7 retention), sized by new persons: cheap channels
    that keep people sit top left."""
    points = [c for c in _with_costs(report) if c.cac is not None and c.retention_d7 is not None]
    biggest = max((c.new_persons for c in points), default=1) or 1
    trace = {
        "type": "scatter",
        "mode": "markers+text",
        "name": t("channels.col.retention_d7"),
        "x": [round(c.cac or 0.0, 4) for c in points],
        "y": [round(100 * (c.retention_d7 or 0.0), 2) for c in points],
        "text": [channel_label(c.channel, t) for c in points],
        "textposition": "top center",
        "customdata": [c.new_persons for c in points],
        "marker": {"size": [12 + 28 * (c.new_persons / biggest) ** 0.5 for c in points]},
        "hovertemplate": (
            f"%{{text}}<br>{t('channels.col.cac')} %{{x:,.2f}}<br>"
            f"{t('channels.col.retention_d7')} %{{y:.1f}}%<br>"
            f"{t('channels.col.new_persons')} %{{customdata:,d}}<extra></extra>"
        ),
    }
    return {
        "data": [trace],
        "layout": layout(
            hovermode="closest",
            showlegend=False,
            xaxis={"title": {"text": t("channels.col.cac")}, "rangemode": "tozero"},
            yaxis={"title": {"text": t("channels.axis.retention_d7")}, "rangemode": "tozero"},
        ),
    }


def roi_figure(report: ChannelReport, t: Translate) -> Figure:
    """ROI per costed channel as horizontal bars (best on top); red below zero."""
    bars = sorted((c for c in _with_costs(report) if c.roi is not None), key=lambda c: c.roi or 0.0)
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "name": t("channels.col.roi"),
                "x": [round(100 * (c.roi or 0.0), 2) for c in bars],
                "y": [channel_label(c.channel, t) for c in bars],
                "marker": {"color": ["#10b981" if (c.roi or 0) >= 0 else "#ef4444" for c in bars]},
                "hovertemplate": "%{y}: %{x:.1f}%<extra></extra>",
            }
        ],
        "layout": layout(
            hovermode="closest",
            showlegend=False,
            xaxis={"title": {"text": t("channels.axis.roi")}, "ticksuffix": "%"},
            margin={"l": 120, "r": 16, "t": 8, "b": 48},
        ),
    }


def retention_figure(report: ChannelReport, t: Translate) -> Figure:
    """D1/D7/D30 retention per channel, grouped bars (the view without costs)."""
    channels = report.channels[:MAX_STACKED]
    names = [channel_label(c.channel, t) for c in channels]
    data = [
        {
            "type": "bar",
            "name": t(f"channels.col.{field}"),
            "x": names,
            "y": [None if v is None else round(100 * v, 2) for v in values],
        }
        for field, values in (
            ("retention_d1", [c.retention_d1 for c in channels]),
            ("retention_d7", [c.retention_d7 for c in channels]),
            ("retention_d30", [c.retention_d30 for c in channels]),
        )
    ]
    return {
        "data": data,
        "layout": layout(barmode="group", yaxis={"ticksuffix": "%", "rangemode": "tozero"}),
    }


COLUMNS = (
    "channel", "new_persons", "activation_rate", "retention_d1", "retention_d7",
    "retention_d30", "paying_persons", "paying_rate", "revenue", "arpu", "cost", "cac", "roi",
)  # fmt: skip
RATES = {"activation_rate", "retention_d1", "retention_d7", "retention_d30", "paying_rate", "roi"}
MONEY = {"revenue", "arpu", "cost", "cac"}


def _cell(field: str, value: Any) -> Cell:
    if field in RATES:
        return Cell(pct(value), None if value is None else round(value, 6), num=True)
    if field in MONEY:
        return Cell(number(value, 2), None if value is None else round(value, 4), num=True)
    return Cell(number(value), value, num=True)


def channel_table(
    report: ChannelReport, t: Translate, link: Callable[[str], str] | None = None
) -> Table:
    """The channel table (the total last); the CSV export writes the same cells' values.
    ``link(channel)`` gives the URL of the channel's new persons."""
    table = Table([t(f"channels.col.{c}") for c in COLUMNS], testid="channel-table")
    for m in [*report.channels, report.total]:
        first = Cell(
            channel_label(m.channel, t),
            m.channel,
            href=link(m.channel) if link and m.channel != TOTAL and m.new_persons else None,
            testid=f"row-{m.channel}",
        )
        table.rows.append([first, *(_cell(f, getattr(m, f)) for f in COLUMNS[1:])])
    return table

"""Plotly figures for the churn page: warning-line trend, feature importance, score and
P(alive) histograms. Pure functions returning JSON-able dicts (see ``web/charts.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from yunying.web.charts import Figure, Translate, date_axis, layout

RISK_COLOR = "#ef4444"
ALIVE_COLOR = "#10b981"


def warning_trend_figure(history: Sequence[Mapping[str, Any]], t: Translate) -> Figure:
    """Persons over each rule's line per evaluated day: one line per rule."""
    days = sorted({row["as_of"] for row in history})
    rules = sorted({row["rule_key"] for row in history})
    by = {(row["as_of"], row["rule_key"]): row["persons"] for row in history}
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": rule,
            "x": [d.isoformat() for d in days],
            "y": [by.get((d, rule), 0) for d in days],
        }
        for rule in rules
    ]
    return {
        "data": data,
        "layout": layout(
            height=280, xaxis=date_axis("day", days), yaxis={"title": t("churn.chart.persons")}
        ),
    }


def importance_figure(features: Sequence[Mapping[str, Any]], t: Translate) -> Figure:
    """Permutation importances as horizontal bars, most important on top."""
    ordered = list(features)[::-1]
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "name": t("churn.chart.importance"),
                "x": [round(float(f["importance"]), 5) for f in ordered],
                "y": [str(f["name"]) for f in ordered],
            }
        ],
        "layout": layout(
            height=max(200, 28 * len(ordered) + 60),
            hovermode="closest",
            showlegend=False,
            margin={"l": 170, "r": 16, "t": 8, "b": 40},
            xaxis={"title": t("churn.chart.auc_drop")},
        ),
    }


def bin_labels(bins: int) -> list[str]:
    step = 1.0 / bins
    return [f"{i * step:.1f}–{(i + 1) * step:.1f}" for i in range(bins)]


def histogram_figure(counts: Sequence[int], t: Translate, *, kind: str) -> Figure:
    """Persons per equal-width bin over [0, 1]; ``kind`` is "risk" or "alive"."""
    color = RISK_COLOR if kind == "risk" else ALIVE_COLOR
    title = t("churn.chart.risk") if kind == "risk" else t("churn.chart.p_alive")
    return {
        "data": [
            {
                "type": "bar",
                "name": t("churn.chart.persons"),
                "x": bin_labels(len(counts)),
                "y": [int(c) for c in counts],
                "marker": {"color": color},
            }
        ],
        "layout": layout(
            height=260,
            hovermode="closest",
            showlegend=False,
            bargap=0.05,
            xaxis={"title": title, "type": "category"},
            yaxis={"title": t("churn.chart.persons")},
        ),
    }


def latest_total(history: Sequence[Mapping[str, Any]]) -> tuple[date | None, dict[str, int]]:
    """The newest evaluated day and its per-rule counts."""
    if not history:
        return None, {}
    last = max(row["as_of"] for row in history)
    return last, {row["rule_key"]: row["persons"] for row in history if row["as_of"] == last}

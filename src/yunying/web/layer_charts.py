"""Plotly figures for the layers page: RFM groups, activity layers, the transition heatmap.

Pure functions like ``charts.py`` (result model + translate in, JSON-able dict out), kept
apart because charts.py is shared by every analysis page.
"""

from __future__ import annotations

from typing import Any

from yunying.people.layers import LayersResult
from yunying.people.rfm import RfmResult
from yunying.people.transitions import TransitionResult
from yunying.web.charts import Figure, Translate, layout

LAYER_COLORS = {
    "recalled": "#8b5cf6",
    "core": "#3b6ff5",
    "active": "#10b981",
    "churn_risk": "#f59e0b",
    "silent": "#94a3b8",
    "churned": "#ef4444",
}
GROUP_COLORS = {
    "important_value": "#3b6ff5",
    "important_develop": "#06b6d4",
    "important_keep": "#8b5cf6",
    "important_retain": "#ef4444",
    "general_value": "#10b981",
    "general_develop": "#84cc16",
    "general_keep": "#f59e0b",
    "general_retain": "#64748b",
}


def rfm_figure(result: RfmResult, t: Translate) -> Figure:
    """Persons per group (bars) and the group's revenue (markers, right axis)."""
    names = [t(f"layers.group.{g.key}") for g in result.groups]
    return {
        "data": [
            {
                "type": "bar",
                "name": t("layers.col.persons"),
                "x": names,
                "y": [g.persons for g in result.groups],
                "marker": {"color": [GROUP_COLORS[g.key] for g in result.groups]},
            },
            {
                "type": "scatter",
                "mode": "markers+lines",
                "name": t("layers.col.revenue"),
                "x": names,
                "y": [round(g.revenue, 2) for g in result.groups],
                "yaxis": "y2",
                "line": {"color": "#f97316"},
            },
        ],
        "layout": layout(
            hovermode="x",
            yaxis={"title": {"text": t("layers.col.persons")}, "rangemode": "tozero"},
            yaxis2={
                "title": {"text": t("layers.col.revenue")},
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
                "showgrid": False,
            },
            margin={"l": 56, "r": 64, "t": 16, "b": 72},
        ),
    }


def layers_figure(result: LayersResult, t: Translate) -> Figure:
    """Horizontal bars, one per layer in precedence order (first on top)."""
    ordered = list(result.layers)[::-1]
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "name": t("layers.col.persons"),
                "y": [t(f"layers.layer.{c.key}") for c in ordered],
                "x": [c.persons for c in ordered],
                "text": [f"{100 * c.share:.1f}%" for c in ordered],
                "textposition": "auto",
                "marker": {"color": [LAYER_COLORS[c.key] for c in ordered]},
            }
        ],
        "layout": layout(
            hovermode="y", showlegend=False, margin={"l": 96, "r": 16, "t": 16, "b": 40}
        ),
    }


def transitions_figure(result: TransitionResult, t: Translate) -> Figure:
    """Heatmap of row shares (colour) with the person counts written in each cell."""
    labels = {k: t(f"layers.layer.{k}") for k in result.layers}
    z: list[list[float]] = []
    text: list[list[str]] = []
    for a in result.layers:
        row_z, row_t = [], []
        for b in result.layers:
            cell = next(c for c in result.cells if c.source == a and c.target == b)
            row_z.append(round(100 * cell.row_share, 1))
            row_t.append(f"{cell.persons}" if cell.persons else "")
        z.append(row_z)
        text.append(row_t)
    trace: dict[str, Any] = {
        "type": "heatmap",
        "x": [labels[b] for b in result.layers],
        "y": [labels[a] for a in result.layers],
        "z": z,
        "text": text,
        "texttemplate": "%{text}",
        "hovertemplate": "%{y} → %{x}<br>%{text} (%{z}%)<extra></extra>",
        "colorscale": [[0, "#f8fafc"], [1, "#3b6ff5"]],
        "zmin": 0,
        "zmax": 100,
        "colorbar": {"title": {"text": "%"}},
    }
    return {
        "data": [trace],
        "layout": layout(
            hovermode="closest",
            xaxis={"title": {"text": t("layers.transitions.to", day=result.to_date.isoformat())}},
            yaxis={
                "title": {"text": t("layers.transitions.from", day=result.from_date.isoformat())},
                "autorange": "reversed",
            },
            margin={"l": 110, "r": 16, "t": 16, "b": 64},
            height=400,
        ),
    }

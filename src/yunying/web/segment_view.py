"""What the segment pages show that is not plain data: the history chart, the builder's
option lists and texts, and a short readable summary of a definition.

Pure functions (no request), so they are tested without a server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from yunying.db.segment_models import SegmentRun
from yunying.people.segments import dsl
from yunying.web.charts import PALETTE, layout

Translate = Callable[..., str]

PERSON_OPERATORS = [
    "eq", "neq", "in", "not_in", "contains", "not_contains", "regex", "gt", "gte", "lt", "lte",
    "is_set", "is_not_set", "before", "after", "within_last_days",
]  # fmt: skip
EVENT_OPERATORS = PERSON_OPERATORS[:13]
SCORE_OPERATORS = ["gte", "gt", "lte", "lt", "eq", "neq"]
COMPARATORS = ["at_least", "at_most", "exactly"]
CONDITION_TYPES = [
    "behaviour", "event_property", "person_property", "first_did", "active_days",
    "funnel_step", "in_segment", "layer", "score",
]  # fmt: skip
ACTIVITY_LAYERS = ["core", "active", "silent", "churn_risk", "churned", "recalled"]


def history_figure(runs: list[SegmentRun], t: Translate, tz: str) -> dict[str, Any]:
    """Members after each refresh (line) over entered (up) and left (down) bars."""
    zone = ZoneInfo(tz)
    x = [r.at.astimezone(zone).strftime("%Y-%m-%d %H:%M") for r in runs]
    return {
        "data": [
            {
                "type": "bar",
                "name": t("segments.history.entered"),
                "x": x,
                "y": [r.entered for r in runs],
                "marker": {"color": PALETTE[2]},
            },
            {
                "type": "bar",
                "name": t("segments.history.left"),
                "x": x,
                "y": [-r.left for r in runs],
                "customdata": [r.left for r in runs],
                "hovertemplate": "%{customdata}",
                "marker": {"color": PALETTE[3]},
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": t("segments.history.members"),
                "x": x,
                "y": [r.members for r in runs],
                "yaxis": "y2",
                "line": {"color": PALETTE[0]},
            },
        ],
        "layout": layout(
            margin={"l": 56, "r": 64, "t": 16, "b": 48},
            barmode="relative",
            xaxis={"type": "category"},
            yaxis={"title": {"text": t("segments.history.changes")}, "zeroline": True},
            yaxis2={
                "title": {"text": t("segments.history.members")},
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
            },
        ),
    }


def builder_texts(t: Translate) -> dict[str, str]:
    """Every text the builder script shows, in the viewer's language (passed as JSON)."""
    keys = [
        "add_condition", "add_group", "remove", "and", "or", "not", "negate", "match_all",
        "match_any", "key", "value", "values_help", "event", "any_event", "did", "did_not",
        "times", "window", "last_days", "between", "days", "date_from", "date_to", "filters",
        "add_filter", "steps", "steps_help", "step", "conversion_window", "at_least_days",
        "in_last_days", "segment", "scheme", "score_name", "days_ago", "date", "type",
    ]  # fmt: skip
    out = {k: t(f"segments.builder.{k}") for k in keys}
    out.update({f"type.{k}": t(f"segments.type.{k}") for k in CONDITION_TYPES})
    out.update({f"op.{k}": t(f"segments.op.{k}") for k in PERSON_OPERATORS})
    out.update({f"cmp.{k}": t(f"segments.cmp.{k}") for k in COMPARATORS})
    out.update({f"layer.{k}": t(f"segments.layer.{k}") for k in ACTIVITY_LAYERS})
    return out


def builder_options(segments: list[Any], exclude: int | None = None) -> dict[str, Any]:
    """Choices the builder offers (operators per condition type, other segments)."""
    return {
        "types": CONDITION_TYPES,
        "person_operators": PERSON_OPERATORS,
        "event_operators": EVENT_OPERATORS,
        "score_operators": SCORE_OPERATORS,
        "comparators": COMPARATORS,
        "layers": ACTIVITY_LAYERS,
        "segments": [{"id": s.id, "name": s.name} for s in segments if s.id != exclude],
    }


def summary(node: Any, t: Translate) -> str:
    """A one-line reading of a definition, e.g. "(did buy ≥ 3 times, last 7 days) and …"."""
    if isinstance(node, dsl.Group):
        joiner = f" {t('segments.builder.' + node.op)} "
        parts = [summary(c, t) for c in node.conditions]
        return parts[0] if len(parts) == 1 else "(" + joiner.join(parts) + ")"
    if isinstance(node, dsl.Not):
        return f"{t('segments.builder.not')} {summary(node.condition, t)}"
    kind = t(f"segments.type.{node.type}")
    detail = ""
    if isinstance(node, dsl.Behaviour):
        detail = f"{node.event or t('segments.builder.any_event')} " + t(
            f"segments.cmp.{node.count.comparator}"
        ) + f" {node.count.value}"  # fmt: skip
        if not node.did:
            detail = f"{t('segments.builder.did_not')} {detail}"
    elif isinstance(node, dsl.PersonProperty | dsl.EventProperty):
        value = "" if node.value is None else f" {node.value}"
        detail = f"{node.key} {t('segments.op.' + node.operator)}{value}"
    elif isinstance(node, dsl.FirstDid):
        detail = node.event
    elif isinstance(node, dsl.ActiveDays):
        detail = f"≥ {node.at_least} / {node.last_days}"
    elif isinstance(node, dsl.FunnelStep):
        detail = f"{' → '.join(s.event for s in node.steps)} #{node.step}"
    elif isinstance(node, dsl.InSegment):
        detail = f"#{node.segment_id}"
    elif isinstance(node, dsl.Layer):
        detail = f"{node.scheme}: {', '.join(node.values)}"
    elif isinstance(node, dsl.Score):
        detail = f"{node.name} {t('segments.op.' + node.operator)} {node.value:g}"
    return f"{kind}: {detail}"

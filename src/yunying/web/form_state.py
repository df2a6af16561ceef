"""Form state for the insight pages: the values a form shows, and query → parameters.

``FormState`` wraps the raw parameters (so a form re-rendered after an error keeps what
the user typed); ``insight_params`` turns a query model back into parameters, so a saved
insight or a default query opens in the same form it would have been built in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel

from yunying.analytics.common import Breakdown, DateRange
from yunying.analytics.filters import PropertyFilter
from yunying.web.forms import Options

_BLANK_FILTER = {"key": "", "op": "eq", "value": "", "type": "event"}


class FormState:
    """Read-only view of form parameters for templates."""

    def __init__(self, pairs: Iterable[tuple[str, Any]]) -> None:
        self.pairs = [(str(k), str(v)) for k, v in pairs]

    @classmethod
    def of(cls, params: Any) -> FormState:
        return cls(params.multi_items())

    def get(self, name: str, default: str = "") -> str:
        values = self.list(name)
        return values[-1] if values else default

    def list(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k == name]

    def rows(self, name: str, minimum: int = 1) -> list[str]:
        """The non-empty values of a repeated field plus one blank row to add another."""
        values = [v for v in self.list(name) if v.strip()]
        return values + [""] * max(1, minimum - len(values))

    def filter_rows(self, prefix: str = "") -> list[dict[str, str]]:
        """Filter rows (``prefix`` + ``filter_key`` …) plus one blank row to add another."""
        keys, ops = self.list(f"{prefix}filter_key"), self.list(f"{prefix}filter_op")
        values, types = self.list(f"{prefix}filter_value"), self.list(f"{prefix}filter_type")

        def at(items: list[str], i: int, default: str) -> str:
            return items[i] if i < len(items) and items[i] else default

        rows = [
            {
                "key": key,
                "op": at(ops, i, "eq"),
                "value": at(values, i, ""),
                "type": at(types, i, "event"),
            }
            for i, key in enumerate(keys)
            if key.strip()
        ]
        return [*rows, dict(_BLANK_FILTER)]

    def series_rows(self, minimum: int = 1) -> list[dict[str, Any]]:
        """Trends series: each non-empty ``event`` row with its own filters, read from the
        row's position as submitted (``s{i}_filter_*``), plus blank rows to add another.
        The form renders row j's filters as ``s{j}_…``, so they follow the row."""
        rows: list[dict[str, Any]] = [
            {"event": v, "filters": self.filter_rows(f"s{i}_")}
            for i, v in enumerate(self.list("event"), 1)
            if v.strip()
        ]
        blank = [{"event": "", "filters": [dict(_BLANK_FILTER)]}]
        return rows + blank * max(1, minimum - len(rows))

    def exclusion_rows(self) -> list[dict[str, str]]:
        """Funnel exclusions (event, from step, to step) plus one blank row."""
        names, froms, tos = (
            self.list("exclusion"),
            self.list("exclusion_from"),
            self.list("exclusion_to"),
        )

        def at(items: list[str], i: int) -> str:
            return items[i] if i < len(items) else ""

        rows = [
            {"event": name, "from": at(froms, i), "to": at(tos, i)}
            for i, name in enumerate(names)
            if name.strip()
        ]
        return [*rows, {"event": "", "from": "", "to": ""}]

    def query_string(self, drop: Iterable[str] = ()) -> str:
        skip = set(drop)
        return urlencode([(k, v) for k, v in self.pairs if k not in skip])

    @property
    def empty(self) -> bool:
        return not self.pairs

    def selected_range(self, default_days: int) -> str:
        """The range option to show selected: the preset, 'custom' for dates, or the default."""
        chosen = self.get("range")
        if chosen:
            return chosen
        return "custom" if self.get("date_from") or self.get("date_to") else f"{default_days}d"


def _filter_params(filters: Iterable[PropertyFilter], prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for f in filters:
        value = f.value
        text = (
            ",".join(map(str, value))
            if isinstance(value, list)
            else ""
            if value is None
            else str(value)
        )
        out += [
            (f"{prefix}filter_key", f.key),
            (f"{prefix}filter_op", f.operator),
            (f"{prefix}filter_value", text),
            (f"{prefix}filter_type", f.type),
        ]
    return out


def _range_params(q: Any, options: Options) -> list[tuple[str, str]]:
    if options.range_days:
        return [("range", f"{options.range_days}d")]
    dr: DateRange = q.date_range
    out = [("range", "custom")]
    if dr.date_from:
        out.append(("date_from", dr.date_from.isoformat()))
    if dr.date_to:
        out.append(("date_to", dr.date_to.isoformat()))
    return out


def _breakdown_params(b: Breakdown | None) -> list[tuple[str, str]]:
    if b is None:
        return []
    return [
        ("breakdown", b.property),
        ("breakdown_type", b.type),
        ("breakdown_limit", str(b.limit)),
    ]


def insight_params(query: BaseModel, options: Options | None = None) -> list[tuple[str, str]]:
    """Form parameters that parse back into ``query`` (rolling ranges stay rolling)."""
    options = options or Options()
    q: Any = query
    out: list[tuple[str, str]] = []
    if q.kind == "trends":
        out += [("event", s.event) for s in q.series]
        for i, s in enumerate(q.series, 1):
            out += _filter_params(s.filters, f"s{i}_")
        out += [("math", q.math), ("interval", q.interval), ("chart", options.chart)]
        if q.math_property:
            out.append(("math_property", q.math_property))
        out += _breakdown_params(q.breakdown)
    elif q.kind == "retention":
        out.append(("start_event", q.start_event.event))
        if q.return_event is not None:
            out.append(("return_event", q.return_event.event))
        out += [("retention_type", q.retention_type), ("period", q.period)]
        out += [("periods", str(q.periods)), ("mode", q.mode)]
        out += _breakdown_params(q.breakdown)
    elif q.kind == "funnel":
        out += [("step", s.event) for s in q.steps]
        out += [("mode", q.mode), ("window", str(q.window)), ("window_unit", q.window_unit)]
        for x in q.exclusions:
            out += [("exclusion", x.event), ("exclusion_from", str(x.from_step))]
            out.append(("exclusion_to", str(x.to_step)))
        out += _breakdown_params(q.breakdown)
    elif q.kind == "paths":
        out += [("start_event", q.start_event.event), ("direction", q.direction)]
        out += [("steps", str(q.steps)), ("session_gap", str(q.session_gap_minutes or 0))]
        out += [("include", e) for e in q.include_events or []]
        out += [("exclude", e) for e in q.exclude_events]
    elif q.kind in ("lifecycle", "stickiness"):
        out += [("event", q.event), ("interval", q.interval)]
        if q.kind == "stickiness":
            out.append(("interval_count", str(q.interval_count)))
    out += _range_params(q, options)
    out += _filter_params(q.filters)
    return out


def query_string(pairs: Iterable[tuple[str, str]]) -> str:
    return urlencode(list(pairs))

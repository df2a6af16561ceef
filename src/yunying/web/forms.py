"""Insight forms ⇄ analytics query models.

Forms are plain GET parameters (so an insight is a shareable URL and its CSV export is the
same URL plus ``/export.csv``). ``parse_insight`` turns them into the metric's query model
or raises ``FormError`` naming the field; ``insight_params`` turns a query back into the
parameters, so a saved insight opens in the same form it was built in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from yunying.analytics.common import Breakdown, DateRange, EventSelector
from yunying.analytics.filters import PropertyFilter
from yunying.analytics.funnels import FunnelExclusion, FunnelQuery
from yunying.analytics.lifecycle import LifecycleQuery
from yunying.analytics.paths import PathsQuery
from yunying.analytics.retention import RetentionQuery
from yunying.analytics.stickiness import StickinessQuery
from yunying.analytics.trends import TrendsQuery

# URL slug → analytics kind.
SLUGS = {
    "trends": "trends",
    "retention": "retention",
    "funnels": "funnel",
    "paths": "paths",
    "lifecycle": "lifecycle",
    "stickiness": "stickiness",
}
KIND_SLUGS = {kind: slug for slug, kind in SLUGS.items()}
RANGES = (7, 14, 30, 90, 180)
DEFAULT_RANGE = {"trends": 30, "retention": 14, "funnel": 30, "paths": 7, "lifecycle": 30}
OPERATORS = (
    "eq", "neq", "contains", "not_contains", "in", "not_in", "regex",
    "gt", "gte", "lt", "lte", "is_set", "is_not_set",
)  # fmt: skip
NUMERIC_OPS = ("gt", "gte", "lt", "lte")
LIST_OPS = ("in", "not_in")
NO_VALUE_OPS = ("is_set", "is_not_set")


class Params(Protocol):
    """What Starlette's QueryParams and FormData both offer."""

    def getlist(self, key: str) -> list[Any]: ...

    def multi_items(self) -> list[tuple[str, Any]]: ...


class FormError(ValueError):
    """A bad field: ``field`` names it in the message, ``code`` is the message kind.

    ``target`` is the input to mark invalid when it is not ``field`` itself (a series' own
    filter row ``s2_filter_value`` is reported as "value" but marked where it is).
    """

    def __init__(self, field: str, code: str, *, target: str = "", **params: object) -> None:
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code
        self.target = target or field
        self.params = params


@dataclass
class Options:
    """Display choices kept next to the query: chart type and a rolling date range."""

    chart: str = "line"
    range_days: int | None = None  # e.g. 30 = the last 30 days up to today

    def as_dict(self) -> dict[str, Any]:
        return {"chart": self.chart, "range_days": self.range_days}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Options:
        data = data or {}
        days = data.get("range_days")
        return cls(
            chart=str(data.get("chart") or "line"),
            range_days=int(days) if isinstance(days, int) and days in RANGES else None,
        )


@dataclass
class ParsedInsight:
    query: BaseModel
    options: Options = field(default_factory=Options)


# ---- reading single fields -------------------------------------------------------------


def _text(params: Params, name: str) -> str:
    values = params.getlist(name)
    return str(values[-1]).strip() if values else ""


def _texts(params: Params, name: str) -> list[str]:
    return [str(v).strip() for v in params.getlist(name)]


def _choice(params: Params, name: str, choices: Sequence[str], default: str) -> str:
    value = _text(params, name) or default
    if value not in choices:
        raise FormError(name, "choice")
    return value


def _int(params: Params, name: str, default: int, lo: int, hi: int) -> int:
    return _int_value(_text(params, name), name, default, lo, hi)


def _int_value(raw: str, name: str, default: int, lo: int, hi: int) -> int:
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise FormError(name, "integer", min=lo, max=hi) from None
    if not lo <= value <= hi:
        raise FormError(name, "integer", min=lo, max=hi)
    return value


def _date(params: Params, name: str) -> date | None:
    raw = _text(params, name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise FormError(name, "date") from None


def _date_range(params: Params, kind: str, today: date) -> tuple[DateRange, int | None]:
    """A preset ``range`` (last N days up to today) wins; ``custom`` (or no range) uses the
    dates; with neither, the kind's default rolling range."""
    preset = _text(params, "range")
    if preset and preset != "custom":
        try:
            days = int(preset.rstrip("d"))
        except ValueError:
            raise FormError("range", "choice") from None
        if days not in RANGES:
            raise FormError("range", "choice")
        return rolling(days, today), days
    d_from, d_to = _date(params, "date_from"), _date(params, "date_to")
    if d_from and d_to and d_from > d_to:
        raise FormError("date_from", "date_order")
    if d_from or d_to:
        return DateRange(date_from=d_from, date_to=d_to), None
    days = DEFAULT_RANGE.get(kind, 30)
    return rolling(days, today), days


def rolling(days: int, today: date) -> DateRange:
    return DateRange(date_from=today - timedelta(days=days - 1), date_to=today)


def _filter_value(op: str, raw: str, target: str) -> Any:
    if op in NO_VALUE_OPS:
        return None
    if op in NUMERIC_OPS:
        try:
            number = float(raw)
        except ValueError:
            raise FormError("filter_value", "number", target=target) from None
        return int(number) if number.is_integer() else number
    if op in LIST_OPS:
        items = [v.strip() for v in raw.split(",") if v.strip()]
        if not items:
            raise FormError("filter_value", "required", target=target)
        return items
    if not raw:
        raise FormError("filter_value", "required", target=target)
    return raw


def parse_filters(
    params: Params, *, person_only: bool = False, prefix: str = ""
) -> list[PropertyFilter]:
    """Rows of ``filter_key``/``filter_op``/``filter_value``/``filter_type``; blank keys skip.

    ``prefix`` reads another set of rows, e.g. ``s2_filter_key``: the second series' own.
    """
    keys, ops = _texts(params, f"{prefix}filter_key"), _texts(params, f"{prefix}filter_op")
    values = _texts(params, f"{prefix}filter_value")
    types = _texts(params, f"{prefix}filter_type")
    out = []
    for i, key in enumerate(keys):
        if not key:
            continue
        op = ops[i] if i < len(ops) and ops[i] else "eq"
        if op not in OPERATORS:
            raise FormError("filter_op", "choice", target=f"{prefix}filter_op")
        kind = "person" if person_only else (types[i] if i < len(types) and types[i] else "event")
        if kind not in ("event", "person"):
            raise FormError("filter_type", "choice", target=f"{prefix}filter_type")
        value = _filter_value(op, values[i] if i < len(values) else "", f"{prefix}filter_value")
        if len(key) > 400:
            raise FormError("filter_key", "too_long", target=f"{prefix}filter_key", max=400)
        out.append(PropertyFilter(key=key, operator=op, value=value, type=kind))  # type: ignore[arg-type]
    return out


def _breakdown(params: Params) -> Breakdown | None:
    prop = _text(params, "breakdown")
    if not prop:
        return None
    kind = _choice(params, "breakdown_type", ("event", "person"), "event")
    limit = _int(params, "breakdown_limit", 10, 1, 50)
    return Breakdown(property=prop, type=kind, limit=limit)  # type: ignore[arg-type]


def _event(params: Params, name: str, *, required: bool = True) -> str | None:
    value = _text(params, name)
    if not value:
        if required:
            raise FormError(name, "required")
        return None
    if len(value) > 400:
        raise FormError(name, "too_long", max=400)
    return value


def _events(params: Params, name: str, minimum: int, maximum: int = 20) -> list[str]:
    names = [v for v in _texts(params, name) if v]
    return _checked(names, name, minimum, maximum)


def _checked(names: list[str], name: str, minimum: int, maximum: int) -> list[str]:
    if len(names) < minimum:
        raise FormError(name, "min_items", n=minimum)
    if len(names) > maximum:
        raise FormError(name, "max_items", n=maximum)
    for n in names:
        if len(n) > 400:
            raise FormError(name, "too_long", max=400)
    return names


def _event_list(params: Params, name: str, maximum: int = 20) -> list[str]:
    """Event names from repeated rows; a row may also hold several, comma-separated (the
    older single-field form), so old links keep working. Duplicates are dropped."""
    names = [x.strip() for v in _texts(params, name) for x in v.split(",") if x.strip()]
    return _checked(list(dict.fromkeys(names)), name, 0, maximum)


# Operators as symbols for series labels, so a label reads the same in every language.
_OP_SYMBOLS = {
    "eq": "=", "neq": "≠", "contains": "∋", "not_contains": "∌", "in": "∈", "not_in": "∉",
    "regex": "~", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "is_set": "≠ ∅",
    "is_not_set": "= ∅",
}  # fmt: skip
LABEL_MAX = 60


def series_label(event: str, filters: list[PropertyFilter]) -> str | None:
    """'view (category = 美食)': tells apart two series of one event with other filters."""
    if not filters:
        return None
    parts = []
    for f in filters:
        value = f.value if not isinstance(f.value, list) else ",".join(map(str, f.value))
        tail = "" if f.value is None else f" {value}"
        parts.append(f"{f.key} {_OP_SYMBOLS.get(f.operator, f.operator)}{tail}")
    text = f"{event} ({', '.join(parts)})"
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


def _series(params: Params) -> list[EventSelector]:
    """Series rows ``event``; row i's own filters are ``s{i}_filter_*`` (i counts every
    row, blank ones too, so a filter stays with the row it was typed under)."""
    _events(params, "event", 1)
    out = []
    for i, name in enumerate(_texts(params, "event"), 1):
        if name:
            filters = parse_filters(params, prefix=f"s{i}_")
            out.append(EventSelector(event=name, filters=filters, name=series_label(name, filters)))
    return out


def _exclusions(params: Params, steps: int) -> list[FunnelExclusion]:
    """Rows of ``exclusion`` (event), ``exclusion_from`` and ``exclusion_to`` (1-based steps,
    default: the whole funnel); rows without an event are skipped."""
    names = _texts(params, "exclusion")
    froms, tos = _texts(params, "exclusion_from"), _texts(params, "exclusion_to")
    out = []
    for i, name in enumerate(names):
        if not name:
            continue
        a = _int_value(froms[i] if i < len(froms) else "", "exclusion_from", 1, 1, steps - 1)
        b = _int_value(tos[i] if i < len(tos) else "", "exclusion_to", steps, 2, steps)
        if a >= b:
            raise FormError("exclusion_to", "exclusion_order")
        out.append((name, a, b))
    _checked([n for n, _, _ in out], "exclusion", 0, 10)
    return [FunnelExclusion(event=n, from_step=a, to_step=b) for n, a, b in out]


# ---- one parser per kind -----------------------------------------------------------------


def _trends(p: Params, dr: DateRange) -> BaseModel:
    math_ = _choice(
        p, "math", ("total", "unique_persons", "sum", "avg", "min", "max", "median"), "total"
    )
    math_property = _text(p, "math_property") or None
    if math_ not in ("total", "unique_persons") and not math_property:
        raise FormError("math_property", "required")
    return TrendsQuery(
        series=_series(p),
        filters=parse_filters(p),
        math=math_,  # type: ignore[arg-type]
        math_property=math_property if math_ not in ("total", "unique_persons") else None,
        interval=_choice(p, "interval", ("hour", "day", "week", "month"), "day"),  # type: ignore[arg-type]
        date_range=dr,
        breakdown=_breakdown(p),
    )


def _retention(p: Params, dr: DateRange) -> BaseModel:
    ret = _event(p, "return_event", required=False)
    return RetentionQuery(
        start_event=EventSelector(event=_event(p, "start_event")),  # type: ignore[arg-type]
        return_event=EventSelector(event=ret) if ret else None,
        retention_type=_choice(p, "retention_type", ("recurring", "first_time"), "recurring"),  # type: ignore[arg-type]
        period=_choice(p, "period", ("day", "week", "month"), "day"),  # type: ignore[arg-type]
        periods=_int(p, "periods", 7, 1, 60),
        mode=_choice(p, "mode", ("on", "within"), "on"),  # type: ignore[arg-type]
        date_range=dr,
        filters=parse_filters(p),
        breakdown=_breakdown(p),
    )


def _funnel(p: Params, dr: DateRange) -> BaseModel:
    unit = _choice(p, "window_unit", ("minutes", "hours", "days", "weeks"), "days")
    window = _int(p, "window", 14, 1, 366 * 24 * 60)
    steps = _events(p, "step", 2)
    mode = _choice(p, "mode", ("ordered", "strict", "unordered"), "ordered")
    exclusions = _exclusions(p, len(steps))
    if exclusions and mode == "unordered":
        raise FormError("exclusion", "exclusion_unordered")
    query = dict(
        steps=[EventSelector(event=e) for e in steps],
        mode=mode,
        date_range=dr,
        window=window,
        window_unit=unit,
        filters=parse_filters(p),
        exclusions=exclusions,
        breakdown=_breakdown(p),
    )
    try:
        return FunnelQuery(**query)  # type: ignore[arg-type]
    except ValidationError:
        raise FormError("window", "window_too_long") from None


def _paths(p: Params, dr: DateRange) -> BaseModel:
    gap = _int(p, "session_gap", 30, 0, 7 * 24 * 60)
    include = _event_list(p, "include")
    exclude = _event_list(p, "exclude")
    return PathsQuery(
        start_event=EventSelector(event=_event(p, "start_event")),  # type: ignore[arg-type]
        direction=_choice(p, "direction", ("after", "before"), "after"),  # type: ignore[arg-type]
        steps=_int(p, "steps", 5, 1, 10),
        session_gap_minutes=gap or None,
        include_events=include or None,
        exclude_events=exclude,
        date_range=dr,
        filters=parse_filters(p),
    )


def _lifecycle(p: Params, dr: DateRange) -> BaseModel:
    return LifecycleQuery(
        event=_event(p, "event"),  # type: ignore[arg-type]
        filters=parse_filters(p),
        interval=_choice(p, "interval", ("day", "week", "month"), "day"),  # type: ignore[arg-type]
        date_range=dr,
    )


def _stickiness(p: Params, dr: DateRange) -> BaseModel:
    return StickinessQuery(
        event=_event(p, "event"),  # type: ignore[arg-type]
        filters=parse_filters(p),
        interval=_choice(p, "interval", ("day", "week", "month"), "day"),  # type: ignore[arg-type]
        interval_count=_int(p, "interval_count", 1, 1, 30),
        date_range=dr,
    )


_PARSERS = {
    "trends": _trends,
    "retention": _retention,
    "funnel": _funnel,
    "paths": _paths,
    "lifecycle": _lifecycle,
    "stickiness": _stickiness,
}

# Query-model fields → the form field that sets them (for errors pydantic raises).
_FIELD_OF = {
    "series": "event",
    "steps": "step",
    "date_range": "date_from",
    "filters": "filter_key",
    "breakdown": "breakdown",
    "start_event": "start_event",
    "return_event": "return_event",
    "exclude_events": "exclude",
    "include_events": "include",
    "exclusions": "exclusion",
}


def parse_insight(kind: str, params: Params, *, today: date) -> ParsedInsight:
    """The query model for ``kind`` from form parameters, or FormError naming the field."""
    if kind not in _PARSERS:
        raise FormError("kind", "choice")
    dr, days = _date_range(params, kind, today)
    chart = _choice(params, "chart", ("line", "bar"), "line")
    try:
        query = _PARSERS[kind](params, dr)
    except ValidationError as exc:
        loc = exc.errors()[0].get("loc") or ("query",)
        name = str(loc[0])
        raise FormError(_FIELD_OF.get(name, name), "invalid") from None
    return ParsedInsight(query=query, options=Options(chart=chart, range_days=days))

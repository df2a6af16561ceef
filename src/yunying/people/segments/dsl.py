"""The segment DSL (用户分群): a JSON tree of conditions, as pydantic models.

A definition is one node: a group ``{"op": "and"|"or", "conditions": [...]}``,
``{"op": "not", "condition": ...}``, or a condition ``{"type": ..., ...}``. Validation
errors name the JSON path of the offending field (``conditions.1.count.value``), so the
API, CLI and console can point at it. The reference with examples is docs/segments.md.

Time windows are local calendar days in the project's time zone: ``{"last_days": 7}`` is
today and the six days before; ``{"date_from": ..., "date_to": ...}`` is inclusive.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from yunying.analytics.common import EventSelector
from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import Operator, PropertyFilter, Scalar

MAX_DEPTH = 8
MAX_CONDITIONS = 64
MAX_DAYS = 3660

DateOperator = Literal["before", "after", "within_last_days"]
PersonOperator = Operator | DateOperator
ScoreOperator = Literal["eq", "neq", "gt", "gte", "lt", "lte"]
Comparator = Literal["at_least", "at_most", "exactly"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Model):
    """Local days: the last ``last_days`` days (today included), or a fixed range."""

    last_days: int | None = Field(default=None, ge=1, le=MAX_DAYS)
    date_from: date | None = None
    date_to: date | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Window:
        if self.last_days is not None:
            if self.date_from is not None or self.date_to is not None:
                raise ValueError("give either last_days or date_from/date_to, not both")
            return self
        if self.date_from is None or self.date_to is None:
            raise ValueError("give last_days, or both date_from and date_to")
        if self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self

    def days(self, today: date) -> tuple[date, date]:
        """First and last local day (inclusive)."""
        if self.last_days is not None:
            return today - timedelta(days=self.last_days - 1), today
        return self.date_from, self.date_to  # type: ignore[return-value]


class Match(_Model):
    """A condition on one event property (``$current_url``, ``plan``, …)."""

    key: str = Field(min_length=1, max_length=400)
    operator: Operator = "eq"
    value: Scalar | list[Scalar] | None = Field(default=None, validate_default=True)

    @field_validator("value")
    @classmethod
    def _value_fits(cls, value: Any, info: ValidationInfo) -> Any:
        check_value(info.data.get("operator"), value)
        return value

    def as_filter(self) -> PropertyFilter:
        return PropertyFilter(key=self.key, operator=self.operator, value=self.value, type="event")


def check_value(op: str, value: Any) -> None:
    """The value shape each operator needs (raised as a validation error on ``value``)."""
    if op in ("is_set", "is_not_set"):
        if value is not None:
            raise ValueError(f"operator {op} takes no value")
    elif op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise ValueError(f"operator {op} needs a non-empty list of values")
    elif op in ("gt", "gte", "lt", "lte"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"operator {op} needs a number")
    elif value is None or isinstance(value, list):
        raise ValueError(f"operator {op} needs one value")
    elif op == "regex":
        try:
            re.compile(str(value))
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None


class CountSpec(_Model):
    """How many times: at_least / at_most / exactly ``value`` (at_most includes zero)."""

    comparator: Comparator = "at_least"
    value: int = Field(default=1, ge=0, le=1_000_000)

    def holds(self, n: int) -> bool:
        if self.comparator == "at_least":
            return n >= self.value
        if self.comparator == "at_most":
            return n <= self.value
        return n == self.value


class PersonProperty(_Model):
    """A person property compared with a value (text, number, or date operators).

    Date operators read ISO 8601 dates/datetimes (no offset = project time zone):
    ``before``/``after`` take ``value`` "YYYY-MM-DD" or ``days_ago`` N (relative to today);
    ``within_last_days`` takes ``value`` N.
    """

    type: Literal["person_property"] = "person_property"
    key: str = Field(min_length=1, max_length=400)
    operator: PersonOperator = "eq"
    value: Scalar | list[Scalar] | None = Field(default=None, validate_default=True)
    days_ago: int | None = Field(default=None, ge=0, le=MAX_DAYS)

    @field_validator("value")
    @classmethod
    def _value_fits(cls, value: Any, info: ValidationInfo) -> Any:
        op = info.data.get("operator")
        if op == "within_last_days":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError("operator within_last_days needs a whole number of days >= 1")
        elif op in ("before", "after"):
            if value is not None:
                text = value if isinstance(value, str) else ""
                try:
                    date.fromisoformat(text)
                except ValueError:
                    raise ValueError(f"operator {op} needs an ISO date (YYYY-MM-DD)") from None
        elif op is not None:
            check_value(op, value)
        return value

    @model_validator(mode="after")
    def _date_form(self) -> PersonProperty:
        op = self.operator
        if op in ("before", "after"):
            if (self.value is None) == (self.days_ago is None):
                raise ValueError(f"operator {op} needs a date value or days_ago, not both")
        elif self.days_ago is not None:
            raise ValueError("days_ago is only for the before/after operators")
        return self

    def boundary(self, today: date) -> date:
        """The day before/after compare with."""
        if self.days_ago is not None:
            return today - timedelta(days=self.days_ago)
        return date.fromisoformat(str(self.value))


class EventProperty(_Model):
    """The person did an event (``event``, or any) whose property matches, in the window."""

    type: Literal["event_property"] = "event_property"
    event: str | None = Field(default=None, min_length=1, max_length=400)
    key: str = Field(min_length=1, max_length=400)
    operator: Operator = "eq"
    value: Scalar | list[Scalar] | None = Field(default=None, validate_default=True)
    window: Window = Field(default_factory=lambda: Window(last_days=30))

    @field_validator("value")
    @classmethod
    def _value_fits(cls, value: Any, info: ValidationInfo) -> Any:
        check_value(info.data.get("operator"), value)
        return value

    def as_behaviour(self) -> Behaviour:
        return Behaviour(
            event=self.event,
            filters=[Match(key=self.key, operator=self.operator, value=self.value)],
            window=self.window,
        )


class Behaviour(_Model):
    """Did (or did not) do ``event`` N times in the window, optionally with filters."""

    type: Literal["behaviour"] = "behaviour"
    event: str | None = Field(default=None, min_length=1, max_length=400)
    filters: list[Match] = Field(default_factory=list, max_length=20)
    did: bool = True
    count: CountSpec = Field(default_factory=CountSpec)
    window: Window = Field(default_factory=lambda: Window(last_days=30))


class FirstDid(_Model):
    """The person's first-ever ``event`` (with filters) falls in the window."""

    type: Literal["first_did"] = "first_did"
    event: str = Field(min_length=1, max_length=400)
    filters: list[Match] = Field(default_factory=list, max_length=20)
    window: Window


class FunnelStep(_Model):
    """Reached at least step ``step`` of an ordered/strict/unordered funnel entered in the
    window, finishing within the conversion window (the funnel metric's semantics)."""

    type: Literal["funnel_step"] = "funnel_step"
    steps: list[EventSelector] = Field(min_length=2, max_length=20)
    step: int = Field(ge=1, le=20)
    mode: Literal["ordered", "strict", "unordered"] = "ordered"
    conversion_window: int = Field(default=14, ge=1)
    conversion_unit: Literal["seconds", "minutes", "hours", "days", "weeks"] = "days"
    window: Window = Field(default_factory=lambda: Window(last_days=30))

    @model_validator(mode="after")
    def _step_exists(self) -> FunnelStep:
        if self.step > len(self.steps):
            raise ValueError(f"step must be between 1 and {len(self.steps)}")
        return self


class ActiveDays(_Model):
    """Active on at least ``at_least`` distinct local days among the last ``last_days``."""

    type: Literal["active_days"] = "active_days"
    at_least: int = Field(ge=1, le=MAX_DAYS)
    last_days: int = Field(ge=1, le=MAX_DAYS)
    event: str | None = Field(default=None, min_length=1, max_length=400)


class InSegment(_Model):
    """Member of another segment of the same project."""

    type: Literal["in_segment"] = "in_segment"
    segment_id: int = Field(ge=1)


class Layer(_Model):
    """The person's ``layer:<scheme>`` value (e.g. activity → core, active, …) is one of
    ``values``."""

    type: Literal["layer"] = "layer"
    scheme: str = Field(min_length=1, max_length=100)
    values: list[str] = Field(min_length=1, max_length=50)


class Score(_Model):
    """The person's ``score:<name>`` value compared with a number."""

    type: Literal["score"] = "score"
    name: str = Field(min_length=1, max_length=100)
    operator: ScoreOperator = "gte"
    value: float = Field(allow_inf_nan=False)


class Group(_Model):
    op: Literal["and", "or"]
    conditions: list[Node] = Field(min_length=1, max_length=MAX_CONDITIONS)


class Not(_Model):
    op: Literal["not"]
    condition: Node


Condition = (
    PersonProperty | EventProperty | Behaviour | FirstDid | FunnelStep | ActiveDays
    | InSegment | Layer | Score
)  # fmt: skip
CONDITION_TYPES: dict[str, type[BaseModel]] = {
    "person_property": PersonProperty,
    "event_property": EventProperty,
    "behaviour": Behaviour,
    "first_did": FirstDid,
    "funnel_step": FunnelStep,
    "active_days": ActiveDays,
    "in_segment": InSegment,
    "layer": Layer,
    "score": Score,
}
_TAGS = frozenset({*CONDITION_TYPES, "group", "not"})


def _tag(value: Any) -> str | None:
    if isinstance(value, dict):
        op = value.get("op")
        if op in ("and", "or"):
            return "group"
        if op == "not":
            return "not"
        if op is not None:
            return None
        kind = value.get("type")
        return kind if kind in CONDITION_TYPES else None
    if isinstance(value, Group):
        return "group"
    if isinstance(value, Not):
        return "not"
    return getattr(value, "type", None)


Node = Annotated[
    Annotated[Group, Tag("group")]
    | Annotated[Not, Tag("not")]
    | Annotated[PersonProperty, Tag("person_property")]
    | Annotated[EventProperty, Tag("event_property")]
    | Annotated[Behaviour, Tag("behaviour")]
    | Annotated[FirstDid, Tag("first_did")]
    | Annotated[FunnelStep, Tag("funnel_step")]
    | Annotated[ActiveDays, Tag("active_days")]
    | Annotated[InSegment, Tag("in_segment")]
    | Annotated[Layer, Tag("layer")]
    | Annotated[Score, Tag("score")],
    Discriminator(
        _tag,
        custom_error_type="invalid_node",
        custom_error_message=(
            "expected a group {'op': 'and'|'or'|'not'} or a condition whose 'type' is one of "
            + ", ".join(sorted(CONDITION_TYPES))
        ),
    ),
]
Group.model_rebuild()
Not.model_rebuild()

_ADAPTER: TypeAdapter[Any] = TypeAdapter(Node)


class DefinitionError(ValueError):
    """A definition that does not validate; ``problems`` are (json path, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p or 'definition'}: {m}" for p, m in problems))


def json_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """A pydantic error location as the JSON path a user wrote (union tags dropped)."""
    return ".".join(str(p) for p in loc if not (isinstance(p, str) and p in _TAGS))


def problems_of(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        path = json_path(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        out.append((".".join(p for p in (prefix, path) if p), msg))
    return out


def parse_definition(data: Any) -> Any:
    """A definition (dict or JSON text) as a validated node; DefinitionError naming paths."""
    try:
        node = (
            _ADAPTER.validate_json(data)
            if isinstance(data, str | bytes)
            else _ADAPTER.validate_python(data)
        )
    except ValidationError as exc:
        raise DefinitionError(problems_of(exc)) from None
    depth = max_depth(node)
    if depth > MAX_DEPTH:
        raise DefinitionError([("", f"nested {depth} levels deep; at most {MAX_DEPTH}")])
    n = sum(1 for _ in leaves(node))
    if n > MAX_CONDITIONS:
        raise DefinitionError([("", f"{n} conditions; at most {MAX_CONDITIONS}")])
    return node


def dump_definition(node: Any) -> dict[str, Any]:
    """The node as plain JSON data (what is stored and shown)."""
    return _ADAPTER.dump_python(node, mode="json", exclude_none=True)


def max_depth(node: Any) -> int:
    if isinstance(node, Group):
        return 1 + max(max_depth(c) for c in node.conditions)
    if isinstance(node, Not):
        return 1 + max_depth(node.condition)
    return 1


def leaves(node: Any) -> Iterator[Any]:
    """Every condition (not group) in the tree, depth first."""
    if isinstance(node, Group):
        for c in node.conditions:
            yield from leaves(c)
    elif isinstance(node, Not):
        yield from leaves(node.condition)
    else:
        yield node


def referenced_segments(node: Any) -> set[int]:
    return {c.segment_id for c in leaves(node) if isinstance(c, InSegment)}


def window_bounds(ctx: ProjectContext, window: Window, today: date) -> tuple[Any, Any]:
    """[start, end) in UTC for the window's local days."""
    return ctx.day_range_utc(*window.days(today))

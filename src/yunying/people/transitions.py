"""How persons moved between activity layers from one week (or month) to the next.

The *from* snapshot is the last day of the previous period, the *to* snapshot the last
day of the period holding the chosen date (or the chosen limit, usually today, while that
period is still running); weeks start on the project's week start, days are local. Both
snapshots come from one query (``layers.layers_with`` with two dates sharing one scan).

The matrix counts persons who have a layer in both snapshots (activity on or before the
*from* day); persons first seen during the period are reported apart, by their *to* layer
(``entered``). Row shares divide by the *from* layer's total, so a row reads "of last
week's active persons, x% are silent now".
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from yunying.analytics.context import ProjectContext
from yunying.analytics.periods import period_of, shift_period
from yunying.people.layer_settings import LAYERS, ActivitySettings
from yunying.people.layers import LayersResult, count_layers, layers_with
from yunying.store.base import EventStore

Period = Literal["week", "month"]
ACTIVE_SIDE = ("recalled", "core", "active")
QUIET_SIDE = ("churn_risk", "silent")


class TransitionCell(BaseModel):
    source: str = Field(description="Layer at the from snapshot.")
    target: str = Field(description="Layer at the to snapshot.")
    persons: int
    row_share: float = Field(description="persons / persons in the source layer (0 if none).")


class TransitionHighlights(BaseModel):
    went_quiet: int = Field(
        description="From recalled/core/active to churn_risk/silent (went silent)."
    )
    newly_churned: int = Field(description="Not churned before, churned now.")
    came_back: int = Field(description="Churned before, any other layer now (came back).")


class TransitionResult(BaseModel):
    period: Period
    from_date: date = Field(description="The from snapshot: last day of the previous period.")
    to_date: date = Field(description="The to snapshot: last day of this period (or the limit).")
    layers: list[str] = Field(description="Row and column order of the matrix.")
    cells: list[TransitionCell] = Field(description="Every (source, target) pair, zeros too.")
    row_totals: dict[str, int]
    column_totals: dict[str, int]
    persons: int = Field(description="Persons in both snapshots (the matrix total).")
    entered: dict[str, int] = Field(description="New persons of the period by their layer now.")
    highlights: TransitionHighlights

    def count(self, source: str, target: str) -> int:
        for c in self.cells:
            if c.source == source and c.target == target:
                return c.persons
        return 0


def snapshot_dates(
    period: Period, day: date, week_start: int = 1, limit: date | None = None
) -> tuple[date, date]:
    """(from, to): the last day of the previous period and of the period holding ``day``
    (capped at ``limit``)."""
    if limit is not None and day > limit:
        raise ValueError(f"date {day} is after {limit}: no snapshot of the future")
    start = period_of(day, period, week_start)
    end = shift_period(start, period) - timedelta(days=1)
    if limit is not None and end > limit:
        end = limit
    return start - timedelta(days=1), end


def transitions_sql(
    store: EventStore, ctx: ProjectContext, s: ActivitySettings, from_date: date, to_date: date
) -> str:
    """Rows (source, target, n); source is NULL for persons new in the period."""
    d = store.dialect
    return (
        f"{layers_with(d, ctx, s, [from_date, to_date])} "
        f"SELECT a.layer AS source, b.layer AS target, count(*) AS n "
        f"FROM l_1 b LEFT JOIN l_0 a ON a.pid = b.pid GROUP BY a.layer, b.layer"
    )


def build_result(
    period: Period, from_date: date, to_date: date, rows: list[dict[str, object]]
) -> TransitionResult:
    """The tidy result from (source, target, n) rows (pure)."""
    got: dict[tuple[str, str], int] = {}
    entered = {key: 0 for key in LAYERS}
    for row in rows:
        source, target, n = row["source"], str(row["target"]), int(row["n"])  # type: ignore[call-overload]
        if source is None or source == "":
            entered[target] += n
        else:
            got[(str(source), target)] = got.get((str(source), target), 0) + n
    row_totals = {a: sum(got.get((a, b), 0) for b in LAYERS) for a in LAYERS}
    column_totals = {b: sum(got.get((a, b), 0) for a in LAYERS) for b in LAYERS}
    cells = [
        TransitionCell(
            source=a,
            target=b,
            persons=got.get((a, b), 0),
            row_share=got.get((a, b), 0) / row_totals[a] if row_totals[a] else 0.0,
        )
        for a in LAYERS
        for b in LAYERS
    ]

    def total(sources: tuple[str, ...] | None, targets: tuple[str, ...] | None) -> int:
        return sum(
            n
            for (a, b), n in got.items()
            if (sources is None or a in sources) and (targets is None or b in targets)
        )

    not_churned = tuple(k for k in LAYERS if k != "churned")
    highlights = TransitionHighlights(
        went_quiet=total(ACTIVE_SIDE, QUIET_SIDE),
        newly_churned=total(not_churned, ("churned",)),
        came_back=total(("churned",), not_churned),
    )
    return TransitionResult(
        period=period,
        from_date=from_date,
        to_date=to_date,
        layers=list(LAYERS),
        cells=cells,
        row_totals=row_totals,
        column_totals=column_totals,
        persons=sum(got.values()),
        entered=entered,
        highlights=highlights,
    )


def run_transitions(
    store: EventStore,
    ctx: ProjectContext,
    s: ActivitySettings,
    *,
    period: Period = "week",
    day: date | None = None,
    limit: date | None = None,
) -> TransitionResult:
    """The transition matrix into the period holding ``day`` (default: today's period)."""
    today = ctx.today()
    from_date, to_date = snapshot_dates(
        period, day or today, ctx.week_start, limit if limit is not None else today
    )
    rows = store.query(transitions_sql(store, ctx, s, from_date, to_date)).to_pylist()
    return build_result(period, from_date, to_date, rows)


def layers_at_snapshot(result: TransitionResult) -> LayersResult:
    """The layer distribution at ``result.to_date``, read off the matrix (persons in both
    snapshots by target layer, plus the period's new persons), so a page showing both does
    not compute the layers twice."""
    counts = {k: result.column_totals.get(k, 0) + result.entered.get(k, 0) for k in LAYERS}
    return count_layers(counts, result.to_date)

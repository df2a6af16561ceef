"""Activity layers (活跃分层) of every person as of any date, in one event-store query.

A person is *active on a day* when they did any event (or one of the configured events)
that local day, after identity merge. As of date X ("the last N days" = X and the N-1
days before), with the default settings, the first rule that holds wins:

1. ``recalled`` 已召回 — churned at the snapshot ``recall_lookback_days`` before X (had
   activity before it, none in the ``churned_days`` up to it) and active in the last
   ``active_days`` now;
2. ``core`` 精英 — active on at least ``core_min_days`` of the last ``core_window_days``;
3. ``active`` 活跃 — active in the last ``active_days`` days;
4. ``churn_risk`` 流失风险 — no activity in the last ``risk_inactive_days`` days but some in
   the last ``churned_days``, after activity on at least ``risk_min_days`` of the
   ``risk_prior_days`` days ending on the person's last active day;
5. ``silent`` 沉默 — no activity in the last ``active_days`` days, some in the last
   ``churned_days``;
6. ``churned`` 已流失 — no activity in the last ``churned_days`` days.

Every person with any activity on or before X gets exactly one layer; persons first seen
after X have none. Why this query shape: resolving persons event by event costs a join of
every event with the id map, so events are first reduced to (distinct id, local day) —
days older than the look-back window fold into one row per distinct id holding its first
and last day — and only those rows are mapped to persons (``source.person_map_sql``, the
same resolution every metric uses). Several as-of dates share that one scan (transitions).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import pyarrow as pa
from pydantic import BaseModel, Field

from yunying.analytics.context import ProjectContext
from yunying.analytics.source import person_map_sql
from yunying.people.layer_settings import LAYERS, ActivitySettings
from yunying.store import derived
from yunying.store.base import EventStore
from yunying.store.dialect import Dialect

LAYER_NAME = "layer:activity"
LAYER_ZH = {
    "recalled": "已召回",
    "core": "精英",
    "active": "活跃",
    "churn_risk": "流失风险",
    "silent": "沉默",
    "churned": "已流失",
}


class LayerCount(BaseModel):
    key: str
    name_zh: str
    persons: int
    share: float = Field(description="persons / all persons with a layer.")


class LayersResult(BaseModel):
    as_of: date
    persons: int = Field(description="Persons with any activity on or before as_of.")
    layers: list[LayerCount]


class LayerPerson(BaseModel):
    person_id: str
    layer: str
    last_active: date
    active_days: int = Field(description="Active days in the core window (last 30 by default).")


class LayerPersonsPage(BaseModel):
    as_of: date
    layer: str | None
    total: int
    limit: int
    offset: int
    persons: list[LayerPerson]


def _days_sql(
    dialect: Dialect, ctx: ProjectContext, s: ActivitySettings, dates: Sequence[date]
) -> str:
    """(pid, d, lo, hi): one row per person and active day inside the look-back window
    (``d`` = that day = lo = hi), plus one row per person with ``d`` NULL folding all
    earlier days (lo = first, hi = last of them)."""
    last = max(dates)
    window = min(dates) - timedelta(days=s.lookback_days())
    _, end = ctx.day_range_utc(last, last)
    ld = dialect.local_date("e.timestamp", ctx.timezone)
    where = [f"e.project_id = {int(ctx.project_id)}", f"e.timestamp < {dialect.ts_lit(end)}"]
    if s.events:
        where.append(f"e.event IN ({', '.join(dialect.str_lit(n) for n in s.events)})")
    day = f"CASE WHEN {ld} >= {dialect.date_lit(window)} THEN {ld} END"
    per_id = (
        f"SELECT e.distinct_id AS did, min(e.person_id) AS fallback, {day} AS dday, "
        f"min({ld}) AS dlo, max({ld}) AS dhi FROM events e WHERE {' AND '.join(where)} "
        f"GROUP BY e.distinct_id, {day}"
    )
    return (
        f"SELECT coalesce(m.person_id, x.fallback) AS pid, x.dday AS d, min(x.dlo) AS lo, "
        f"max(x.dhi) AS hi FROM ({per_id}) x "
        f"LEFT JOIN ({person_map_sql(dialect, ctx)}) m ON m.distinct_id = x.did "
        f"GROUP BY coalesce(m.person_id, x.fallback), x.dday"
    )


def _layer_sql(dialect: Dialect, s: ActivitySettings, as_of: date, tag: str) -> str:
    """(pid, layer, last_active, active_days) as of ``as_of`` from CTE ``days``."""
    lit, dl = dialect.str_lit, dialect.date_lit

    def ago(n: int) -> str:  # the first day of "the last n days"
        return dl(as_of - timedelta(days=n - 1))

    prev = as_of - timedelta(days=s.recall_lookback_days)
    feats = (
        f"SELECT pid, max(CASE WHEN hi <= {dl(as_of)} THEN hi END) AS last_day, "
        f"max(CASE WHEN hi <= {dl(prev)} THEN hi END) AS prev_last, "
        f"count(CASE WHEN d >= {ago(s.core_window_days)} AND d <= {dl(as_of)} THEN 1 END)"
        f" AS core_days FROM days GROUP BY pid HAVING min(lo) <= {dl(as_of)}"
    )
    risk_from, risk_to = ago(s.churned_days), dl(as_of - timedelta(days=s.risk_inactive_days))
    gap = dialect.days_between("y.d", "f.last_day")
    risk = (
        f"SELECT y.pid AS pid, count(*) AS prior_days FROM days y JOIN f_{tag} f ON f.pid = y.pid "
        f"WHERE f.last_day >= {risk_from} AND f.last_day <= {risk_to} AND y.d IS NOT NULL "
        f"AND {gap} >= 0 AND {gap} < {int(s.risk_prior_days)} GROUP BY y.pid"
    )
    prev_churned = (
        f"f.prev_last IS NOT NULL AND f.prev_last < {dl(prev - timedelta(days=s.churned_days - 1))}"
    )
    active_now = f"f.last_day >= {ago(s.active_days)}"
    layer = (
        f"CASE WHEN {prev_churned} AND {active_now} THEN {lit('recalled')} "
        f"WHEN f.core_days >= {int(s.core_min_days)} THEN {lit('core')} "
        f"WHEN {active_now} THEN {lit('active')} "
        f"WHEN coalesce(r.prior_days, 0) >= {int(s.risk_min_days)} THEN {lit('churn_risk')} "
        f"WHEN f.last_day >= {ago(s.churned_days)} THEN {lit('silent')} "
        f"ELSE {lit('churned')} END"
    )
    return (
        f"{dialect.cte_materialized(f'f_{tag}', feats)}, "
        f"r_{tag} AS ({risk}), "
        f"l_{tag} AS (SELECT f.pid AS pid, {layer} AS layer, f.last_day AS last_active, "
        f"f.core_days AS active_days FROM f_{tag} f LEFT JOIN r_{tag} r ON r.pid = f.pid)"
    )


def layers_with(
    dialect: Dialect, ctx: ProjectContext, s: ActivitySettings, dates: Sequence[date]
) -> str:
    """``WITH days …, l_0 …, l_1 …`` — layer CTEs ``l_<i>`` for each date, to select from."""
    parts = [dialect.cte_materialized("days", _days_sql(dialect, ctx, s, dates))]
    parts += [_layer_sql(dialect, s, d, str(i)) for i, d in enumerate(dates)]
    return "WITH " + ", ".join(parts)


def layers_sql(dialect: Dialect, ctx: ProjectContext, s: ActivitySettings, as_of: date) -> str:
    """One row per person seen on or before ``as_of``: pid, layer, last_active, active_days."""
    return (
        f"{layers_with(dialect, ctx, s, [as_of])} "
        f"SELECT pid, layer, last_active, active_days FROM l_0"
    )


def layer_table(
    store: EventStore, ctx: ProjectContext, s: ActivitySettings, as_of: date
) -> pa.Table:
    return store.query(layers_sql(store.dialect, ctx, s, as_of))


def count_layers(counts: dict[str, int], as_of: date) -> LayersResult:
    total = sum(counts.values())
    return LayersResult(
        as_of=as_of,
        persons=total,
        layers=[
            LayerCount(
                key=key,
                name_zh=LAYER_ZH[key],
                persons=counts.get(key, 0),
                share=counts.get(key, 0) / total if total else 0.0,
            )
            for key in LAYERS
        ],
    )


def run_layers(
    store: EventStore, ctx: ProjectContext, s: ActivitySettings, as_of: date
) -> LayersResult:
    """Persons per layer as of ``as_of`` (computed now)."""
    sql = (
        f"{layers_with(store.dialect, ctx, s, [as_of])} "
        f"SELECT layer, count(*) AS n FROM l_0 GROUP BY layer"
    )
    counts = {r["layer"]: int(r["n"]) for r in store.query(sql).to_pylist()}
    return count_layers(counts, as_of)


def layer_persons(
    store: EventStore,
    ctx: ProjectContext,
    s: ActivitySettings,
    as_of: date,
    *,
    layer: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> LayerPersonsPage:
    """Persons of one layer (or all), most recently active first, one page."""
    if layer is not None and layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}")
    d = store.dialect
    with_ = layers_with(d, ctx, s, [as_of])
    where = f"WHERE layer = {d.str_lit(layer)}" if layer else ""
    page = store.query(
        f"{with_} SELECT pid, layer, last_active, active_days, count(*) OVER () AS total "
        f"FROM l_0 {where} ORDER BY last_active DESC, active_days DESC, pid "
        f"LIMIT {int(limit)} OFFSET {int(offset)}"
    ).to_pylist()
    if page:
        total = int(page[0]["total"])
    else:
        total = int(
            store.query(f"{with_} SELECT count(*) AS n FROM l_0 {where}").column("n")[0].as_py()
        )
    return LayerPersonsPage(
        as_of=as_of,
        layer=layer,
        total=total,
        limit=limit,
        offset=offset,
        persons=[
            LayerPerson(
                person_id=r["pid"],
                layer=r["layer"],
                last_active=r["last_active"],
                active_days=int(r["active_days"]),
            )
            for r in page
        ],
    )


def publish_layers(
    store: EventStore, ctx: ProjectContext, s: ActivitySettings, as_of: date
) -> tuple[LayersResult, derived.Run]:
    """Compute once and publish ``layer:activity`` (value_str = layer key, value_num =
    days since the person was last active)."""
    table = layer_table(store, ctx, s, as_of)
    rows = table.to_pydict()
    since = [(as_of - d).days for d in rows["last_active"]]
    data = pa.table(
        {
            "person_id": table.column("pid"),
            "value_num": pa.array(since, pa.float64()),
            "value_str": table.column("layer"),
        }
    )
    run = derived.write_values(store, ctx.project_id, LAYER_NAME, data)
    derived.prune(store, ctx.project_id, LAYER_NAME)
    counts: dict[str, int] = {}
    for key in rows["layer"]:
        counts[key] = counts.get(key, 0) + 1
    return count_layers(counts, as_of), run

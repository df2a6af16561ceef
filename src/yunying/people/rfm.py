"""RFM (recency, frequency, monetary) scores and the eight classic RFM groups per person.

From the purchase events in a window of local days ending on the as-of date, each buying
person (after identity merge) gets recency = days from the last purchase's local day to
the as-of day, frequency = purchases and monetary = revenue. Scores 1-5:

- *quantile* (default): the value's percent rank among buyers, in fifths:
  ``score = min(5, 1 + floor(5 × worse / (buyers - 1)))`` where ``worse`` counts buyers
  with a strictly worse value (a longer recency, fewer purchases, less revenue). So the
  worst value scores 1 and the best 5, equal values get equal scores (ties are never
  split across scores) and the score never decreases as the value improves. Uses only
  ``rank()`` and ``count() OVER ()``, which both engines evaluate identically.
- *threshold*: four configured cut points per dimension (see ``RfmSettings``).

A score is *high* when it is strictly above the mean (or median) of that score over all
buyers; the (R, F, M) high/low pattern names the group (``layer_settings.RFM_GROUPS``).
Everything is one SQL query written against the Dialect, so DuckDB and ClickHouse give
the same groups. Persons without a purchase in the window get no group.
"""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import property_expr
from yunying.analytics.source import events_sql
from yunying.people.layer_settings import GROUP_KEYS, RFM_GROUPS, RfmSettings
from yunying.store import derived
from yunying.store.base import EventStore
from yunying.store.dialect import Dialect

SCORES = 5
GROUP_NAME = "rfm:group"
SCORE_NAME = "rfm:score"


class RfmGroup(BaseModel):
    key: str = Field(description="One of the eight group keys, e.g. important_value.")
    name_zh: str = Field(description="The Chinese name, e.g. 重要价值.")
    pattern: str = Field(description="R/F/M high (H) or low (L), e.g. HLH.")
    persons: int
    share: float = Field(description="persons / buyers (0 when there are no buyers).")
    avg_recency: float | None = Field(description="Mean days since the last purchase.")
    avg_frequency: float | None
    avg_monetary: float | None
    revenue: float = Field(description="Sum of the group's revenue in the window.")


class RfmResult(BaseModel):
    as_of: date
    window_from: date = Field(description="First local day of the purchase window.")
    scoring: str
    split: str
    buyers: int = Field(description="Persons with at least one purchase in the window.")
    revenue: float
    reference: dict[str, float | None] = Field(
        description="The mean (or median) R, F and M score a score must exceed to be high."
    )
    groups: list[RfmGroup]


class RfmPerson(BaseModel):
    person_id: str
    recency: int
    frequency: int
    monetary: float
    r: int
    f: int
    m: int
    group: str


class RfmPersonsPage(BaseModel):
    as_of: date
    group: str | None
    total: int
    limit: int
    offset: int
    persons: list[RfmPerson]


def window_dates(settings: RfmSettings, as_of: date) -> tuple[date, date]:
    return as_of - timedelta(days=settings.window_days - 1), as_of


def _flag(cond: str) -> str:
    return f"(CASE WHEN {cond} THEN 1 ELSE 0 END)"


def _quantile_score(column: str, worse_first: str) -> str:
    """Percent rank in fifths; ``worse_first`` is the order that puts the worst first."""
    return (
        f"least({SCORES}, 1 + CAST(floor({SCORES} * "
        f"(rank() OVER (ORDER BY {column} {worse_first}) - 1) "
        f"/ greatest(count(*) OVER () - 1, 1)) AS INTEGER))"
    )


def _scores_sql(dialect: Dialect, s: RfmSettings) -> tuple[str, str, str]:
    if s.scoring == "quantile":
        return (
            _quantile_score("recency", "DESC"),
            _quantile_score("frequency", "ASC"),
            _quantile_score("monetary", "ASC"),
        )
    num = dialect.num_lit
    r = " + ".join(_flag(f"recency > {num(int(t))}") for t in s.recency_thresholds)
    f = " + ".join(_flag(f"frequency >= {num(float(t))}") for t in s.frequency_thresholds)
    m = " + ".join(_flag(f"monetary >= {num(float(t))}") for t in s.monetary_thresholds)
    return f"({SCORES} - ({r}))", f"(1 + {f})", f"(1 + {m})"


def rfm_sql(dialect: Dialect, ctx: ProjectContext, s: RfmSettings, as_of: date) -> str:
    """One row per buying person: person_id, recency, frequency, monetary, r, f, m, grp."""
    first, last = window_dates(s, as_of)
    start, end = ctx.day_range_utc(first, last)
    revenue = property_expr(
        dialect, s.revenue_property or ctx.revenue_property, alias="e", numeric=True
    )
    src = events_sql(
        dialect,
        ctx,
        start=start,
        end=end,
        event_names=[s.purchase_event],
        columns=[f"{dialect.local_date('e.ts', ctx.timezone)} AS d", f"{revenue} AS amount"],
    )
    agg = (
        f"SELECT pid AS person_id, {dialect.days_between('max(d)', dialect.date_lit(as_of))} "
        f"AS recency, count(*) AS frequency, coalesce(sum(amount), 0) AS monetary "
        f"FROM ({src}) x GROUP BY pid"
    )
    r, f, m = _scores_sql(dialect, s)
    scored = (
        f"SELECT person_id, recency, frequency, monetary, {r} AS r, {f} AS f, {m} AS m "
        f"FROM ({agg}) a"
    )
    ref = dialect.median if s.split == "median" else (lambda x: f"avg({x})")
    refs = f"SELECT {ref('r')} AS r_ref, {ref('f')} AS f_ref, {ref('m')} AS m_ref FROM scored"
    code = (
        f"({_flag('s.r > ref.r_ref')} * 4 + {_flag('s.f > ref.f_ref')} * 2 "
        f"+ {_flag('s.m > ref.m_ref')})"
    )
    lit = dialect.str_lit
    cases = " ".join(
        f"WHEN {4 * rh + 2 * fh + mh} THEN {lit(key)}"
        for key, ((rh, fh, mh), _) in RFM_GROUPS.items()
    )
    return (
        f"WITH {dialect.cte_materialized('scored', scored)} "
        f"SELECT s.person_id AS person_id, s.recency AS recency, s.frequency AS frequency, "
        f"s.monetary AS monetary, s.r AS r, s.f AS f, s.m AS m, "
        f"ref.r_ref AS r_ref, ref.f_ref AS f_ref, ref.m_ref AS m_ref, "
        f"CASE {code} {cases} END AS grp "
        f"FROM scored s CROSS JOIN ({refs}) ref"
    )


def rfm_table(store: EventStore, ctx: ProjectContext, s: RfmSettings, as_of: date) -> pa.Table:
    """Per-person RFM as Arrow (all buyers), the input of ``summarize`` and ``publish``."""
    return store.query(rfm_sql(store.dialect, ctx, s, as_of))


def _mean(values: pa.ChunkedArray) -> float | None:
    if len(values) == 0:
        return None
    return float(pc.mean(values).as_py())


def summarize(table: pa.Table, s: RfmSettings, as_of: date) -> RfmResult:
    """Group counts, shares, mean R/F/M values and revenue from ``rfm_table`` rows."""
    buyers = table.num_rows
    total_revenue = float(pc.sum(table.column("monetary")).as_py() or 0.0) if buyers else 0.0
    groups = []
    for key, ((rh, fh, mh), zh) in RFM_GROUPS.items():
        part = table.filter(pc.equal(table.column("grp"), key)) if buyers else table
        n = part.num_rows
        groups.append(
            RfmGroup(
                key=key,
                name_zh=zh,
                pattern="".join("H" if x else "L" for x in (rh, fh, mh)),
                persons=n,
                share=n / buyers if buyers else 0.0,
                avg_recency=_mean(part.column("recency")) if n else None,
                avg_frequency=_mean(part.column("frequency")) if n else None,
                avg_monetary=_mean(part.column("monetary")) if n else None,
                revenue=float(pc.sum(part.column("monetary")).as_py() or 0.0) if n else 0.0,
            )
        )
    reference: dict[str, float | None] = {"r": None, "f": None, "m": None}
    if buyers:
        for dim in reference:
            reference[dim] = float(table.column(f"{dim}_ref")[0].as_py())
    return RfmResult(
        as_of=as_of,
        window_from=window_dates(s, as_of)[0],
        scoring=s.scoring,
        split=s.split,
        buyers=buyers,
        revenue=total_revenue,
        reference=reference,
        groups=groups,
    )


def run_rfm(store: EventStore, ctx: ProjectContext, s: RfmSettings, as_of: date) -> RfmResult:
    """The group summary as of ``as_of`` (computed now, not read from a published run)."""
    return summarize(rfm_table(store, ctx, s, as_of), s, as_of)


def rfm_persons(
    store: EventStore,
    ctx: ProjectContext,
    s: RfmSettings,
    as_of: date,
    *,
    group: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> RfmPersonsPage:
    """Buyers (of one group, or all), biggest spenders first, one page."""
    if group is not None and group not in GROUP_KEYS:
        raise ValueError(f"unknown RFM group {group!r}")
    d = store.dialect
    where = f"WHERE grp = {d.str_lit(group)}" if group else ""
    inner = rfm_sql(d, ctx, s, as_of)
    page = store.query(
        f"SELECT person_id, recency, frequency, monetary, r, f, m, grp, "
        f"count(*) OVER () AS total FROM ({inner}) q {where} "
        f"ORDER BY monetary DESC, person_id LIMIT {int(limit)} OFFSET {int(offset)}"
    ).to_pylist()
    if page:
        total = int(page[0]["total"])
    else:
        total = int(
            store.query(f"SELECT count(*) AS n FROM ({inner}) q {where}").column("n")[0].as_py()
        )
    persons = [
        RfmPerson(
            person_id=row["person_id"],
            recency=int(row["recency"]),
            frequency=int(row["frequency"]),
            monetary=float(row["monetary"]),
            r=int(row["r"]),
            f=int(row["f"]),
            m=int(row["m"]),
            group=row["grp"],
        )
        for row in page
    ]
    return RfmPersonsPage(
        as_of=as_of, group=group, total=total, limit=limit, offset=offset, persons=persons
    )


def publish_rfm(
    store: EventStore, ctx: ProjectContext, s: RfmSettings, as_of: date
) -> tuple[RfmResult, list[derived.Run]]:
    """Compute once and publish ``rfm:group`` (value_str = group key, value_num =
    monetary) and ``rfm:score`` (value_str e.g. "545", value_num = 100R + 10F + M)."""
    table = rfm_table(store, ctx, s, as_of)
    score = pc.add(
        pc.add(pc.multiply(table.column("r"), 100), pc.multiply(table.column("f"), 10)),
        table.column("m"),
    )
    groups = pa.table(
        {
            "person_id": table.column("person_id"),
            "value_num": table.column("monetary"),
            "value_str": table.column("grp"),
        }
    )
    scores = pa.table(
        {
            "person_id": table.column("person_id"),
            "value_num": score,
            "value_str": pc.cast(score, pa.string()),
        }
    )
    runs = [
        derived.write_values(store, ctx.project_id, GROUP_NAME, groups),
        derived.write_values(store, ctx.project_id, SCORE_NAME, scores),
    ]
    for name in (GROUP_NAME, SCORE_NAME):
        derived.prune(store, ctx.project_id, name)
    return summarize(table, s, as_of), runs

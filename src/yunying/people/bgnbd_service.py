"""BG/NBD on the event store: the RFM summary in SQL, the fit, and the published scores.

The summary follows the paper: a customer's purchases are collapsed per local day (several
transactions on one day are one purchase occasion), x = purchase days after the first,
t_x = time from the first to the last purchase day, T = time from the first purchase day
to the end of the calibration period (the as-of day), in days or weeks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
from pydantic import BaseModel

from yunying.analytics.context import ProjectContext
from yunying.analytics.source import events_sql
from yunying.people import bgnbd
from yunying.people.churn_config import ModelSettings
from yunying.store import derived
from yunying.store.base import EventStore

UNIT_DAYS = {"day": 1.0, "week": 7.0}
P_ALIVE = "score:p_alive"
EXPECTED_30D = "score:expected_purchases_30d"
HISTOGRAM_BINS = 10
MIN_CUSTOMERS = 20  # fewer buyers (or repeat buyers) give degenerate, meaningless estimates
MIN_REPEAT_CUSTOMERS = 5


@dataclass(frozen=True)
class RfmSummary:
    person_ids: list[str]
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    unit_days: float


class BgNbdReport(BaseModel):
    as_of: date
    purchase_event: str
    time_unit: str
    customers: int
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    converged: bool
    at_bound: list[str] = []  # parameters that hit the search box: weakly identified
    mean_p_alive: float
    expected_purchases_30d: float  # sum over customers
    p_alive_histogram: list[int]  # HISTOGRAM_BINS equal bins over [0, 1]
    published: bool = False


def summary_sql(store: EventStore, ctx: ProjectContext, purchase_event: str, as_of: date) -> str:
    d = store.dialect
    _, end = ctx.day_range_utc(as_of, as_of)
    day = d.local_date("e.ts", ctx.timezone)
    source = events_sql(d, ctx, end=end, event_names=[purchase_event], columns=[f"{day} AS day"])
    as_of_lit = d.date_lit(as_of)
    return (
        f"SELECT s.pid AS pid, s.days - 1 AS x, {d.days_between('s.first_day', 's.last_day')} "
        f"AS span_days, {d.days_between('s.first_day', as_of_lit)} AS age_days FROM ("
        f"SELECT a.pid AS pid, min(a.day) AS first_day, max(a.day) AS last_day, "
        f"{d.count_distinct('a.day')} AS days FROM ({source}) a GROUP BY a.pid) s "
        f"ORDER BY s.pid{d.settings_suffix()}"
    )


def rfm_summary(
    store: EventStore,
    ctx: ProjectContext,
    *,
    purchase_event: str,
    as_of: date,
    time_unit: str = "week",
) -> RfmSummary:
    """x, t_x, T per purchaser as of the end of local day ``as_of``."""
    unit = UNIT_DAYS[time_unit]
    table = store.query(summary_sql(store, ctx, purchase_event, as_of))
    ids = [str(p) for p in table.column("pid").to_pylist()]
    x = table.column("x").to_numpy(zero_copy_only=False).astype(np.float64)
    span = table.column("span_days").to_numpy(zero_copy_only=False).astype(np.float64)
    age = table.column("age_days").to_numpy(zero_copy_only=False).astype(np.float64)
    return RfmSummary(ids, x, span / unit, age / unit, unit)


def fit_summary(summary: RfmSummary) -> bgnbd.BgNbdFit:
    if not summary.person_ids:
        raise bgnbd.BgNbdError("no purchases before the as-of day: nothing to fit")
    repeat = int(np.sum(summary.x > 0))
    if len(summary.person_ids) < MIN_CUSTOMERS or repeat < MIN_REPEAT_CUSTOMERS:
        raise bgnbd.BgNbdError(
            f"too few buyers to fit: {len(summary.person_ids)} buyers, {repeat} with repeat "
            f"purchases (need {MIN_CUSTOMERS} and {MIN_REPEAT_CUSTOMERS})"
        )
    return bgnbd.fit(summary.x, summary.t_x, summary.T)


def fit_and_publish(
    store: EventStore,
    ctx: ProjectContext,
    settings: ModelSettings,
    *,
    as_of: date,
    publish: bool = True,
) -> BgNbdReport:
    """Fit on every purchaser as of ``as_of``; publish P(alive) and expected purchases in
    the next 30 days for each of them (``score:p_alive``, ``score:expected_purchases_30d``)."""
    summary = rfm_summary(
        store,
        ctx,
        purchase_event=settings.purchase_event,
        as_of=as_of,
        time_unit=settings.time_unit,
    )
    result = fit_summary(summary)
    params = result.params
    alive = bgnbd.p_alive(params, summary.x, summary.t_x, summary.T)
    horizon = 30.0 / summary.unit_days
    expected = bgnbd.expected_purchases(params, horizon, summary.x, summary.t_x, summary.T)
    expected = np.nan_to_num(expected, nan=0.0, posinf=0.0)  # only at absurd parameters
    if publish:
        ids = pa.array(summary.person_ids, pa.string())
        derived.write_values(
            store, ctx.project_id, P_ALIVE, pa.table({"person_id": ids, "value_num": alive})
        )
        derived.write_values(
            store, ctx.project_id, EXPECTED_30D, pa.table({"person_id": ids, "value_num": expected})
        )
        derived.prune(store, ctx.project_id, P_ALIVE)
        derived.prune(store, ctx.project_id, EXPECTED_30D)
    histogram, _ = np.histogram(alive, bins=HISTOGRAM_BINS, range=(0.0, 1.0))
    return BgNbdReport(
        as_of=as_of,
        purchase_event=settings.purchase_event,
        time_unit=settings.time_unit,
        customers=result.customers,
        **params.as_dict(),
        log_likelihood=result.log_likelihood,
        converged=result.converged,
        at_bound=list(result.at_bound),
        mean_p_alive=float(np.mean(alive)),
        expected_purchases_30d=float(np.sum(expected)),
        p_alive_histogram=[int(v) for v in histogram],
        published=publish,
    )

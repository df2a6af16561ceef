"""RFM groups + activity layers for 1,000,000 persons (~11.7M events): Yunying vs
hand-written DuckDB SQL vs pandas, in the same run. Target: <= 5 s for Yunying.

The dataset is ``people_data.py`` (cached in bench/.data/). Each contender computes every
person's RFM group and activity layer as of the dataset's last day with the default
settings (quantile scores, mean split, 365-day purchase window; the six activity layers):

- Yunying: ``rfm.rfm_table`` + ``layers.layer_table`` — the per-person Arrow tables that
  ``compute_and_publish`` writes (SQL generation, DuckDB, and the results in Python);
- SQL: the same definitions written by hand as directly as one would (still resolving
  persons through ``person_distinct_ids``), returning only the counts;
- pandas: from the needed columns already in memory (loading them is timed apart), with
  the same identity resolution.

The per-group and per-layer counts of the three are compared and must be equal.

    python bench/bench_layers.py                    # 1M persons
    python bench/bench_layers.py --persons 100000   # quicker (its own cached file)
    python bench/bench_layers.py --publish          # also time compute_and_publish
    python bench/bench_layers.py --report           # and rewrite its docs/benchmarks.md part
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from common import PROJECT_ID, log, ratio, table, timed, update_report
from people_data import PERSONS, context, people_dataset

from yunying.people.layer_settings import RFM_GROUPS, LayerSettings
from yunying.store.duckdb import DuckDBStore

Counts = dict[str, int]
S = LayerSettings()
CODE_TO_GROUP = {4 * r + 2 * f + m: k for k, ((r, f, m), _) in RFM_GROUPS.items()}
PERSON_MAP = (
    "SELECT distinct_id, arg_max(person_id, version) AS pid FROM person_distinct_ids "
    f"WHERE project_id = {PROJECT_ID} GROUP BY distinct_id"
)
LOCAL_DATE = "CAST(e.timestamp + INTERVAL 8 HOUR AS DATE)"  # Asia/Shanghai, no DST


def _utc(d: date) -> str:
    return context().day_start_utc(d).strftime("%Y-%m-%d %H:%M:%S")


# ---- Yunying ------------------------------------------------------------------------------


def yunying(store: DuckDBStore, end: date) -> tuple[Counts, Counts]:
    from yunying.people.layers import layer_table
    from yunying.people.rfm import rfm_table

    ctx = context()
    rfm = rfm_table(store, ctx, S.rfm, end)
    layers = layer_table(store, ctx, S.activity, end)
    return (
        _count(rfm.column("grp").to_pylist()),
        _count(layers.column("layer").to_pylist()),
    )


def _count(values: list[str]) -> Counts:
    out: Counts = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


# ---- hand-written SQL ---------------------------------------------------------------------


def sql(store: DuckDBStore, end: date) -> tuple[Counts, Counts]:
    first = end - timedelta(days=S.rfm.window_days - 1)
    stop = _utc(end + timedelta(days=1))
    rank = (
        "least(5, 1 + floor(5 * (rank() OVER (ORDER BY {c} {o}) - 1) "
        "/ greatest(count(*) OVER () - 1, 1)))"
    )
    rfm = f"""
    WITH m AS ({PERSON_MAP}),
    p AS (SELECT coalesce(m.pid, e.person_id) AS pid, {LOCAL_DATE} AS d, e.revenue
          FROM events e LEFT JOIN m ON m.distinct_id = e.distinct_id
          WHERE e.project_id = {PROJECT_ID} AND e.event = 'purchase'
            AND e.timestamp >= TIMESTAMP '{_utc(first)}' AND e.timestamp < TIMESTAMP '{stop}'),
    a AS (SELECT pid, date_diff('day', max(d), DATE '{end}') AS rec, count(*) AS fr,
                 coalesce(sum(revenue), 0) AS mo FROM p GROUP BY pid),
    s AS (SELECT {rank.format(c="rec", o="DESC")} AS r, {rank.format(c="fr", o="ASC")} AS f,
                 {rank.format(c="mo", o="ASC")} AS m FROM a),
    g AS (SELECT r, f, m, avg(r) OVER () AS ar, avg(f) OVER () AS af, avg(m) OVER () AS am FROM s)
    SELECT (r > ar)::INT * 4 + (f > af)::INT * 2 + (m > am)::INT AS code, count(*) AS n
    FROM g GROUP BY code
    """
    groups = {CODE_TO_GROUP[int(r["code"])]: int(r["n"]) for r in store.query(rfm).to_pylist()}
    a = S.activity
    prev = end - timedelta(days=a.recall_lookback_days)
    layers = f"""
    WITH m AS ({PERSON_MAP}),
    days AS MATERIALIZED (
      SELECT DISTINCT coalesce(m.pid, e.person_id) AS pid, {LOCAL_DATE} AS d
      FROM events e LEFT JOIN m ON m.distinct_id = e.distinct_id
      WHERE e.project_id = {PROJECT_ID} AND e.timestamp < TIMESTAMP '{stop}'),
    f AS MATERIALIZED (
      SELECT pid, max(d) AS last, max(d) FILTER (WHERE d <= DATE '{prev}') AS lastp,
             count(*) FILTER (WHERE d > DATE '{end}' - {a.core_window_days}) AS core
      FROM days GROUP BY pid),
    r AS (SELECT y.pid, count(*) AS prior FROM days y JOIN f USING (pid)
          WHERE f.last > DATE '{end}' - {a.churned_days}
            AND f.last <= DATE '{end}' - {a.risk_inactive_days}
            AND y.d > f.last - {a.risk_prior_days} AND y.d <= f.last GROUP BY y.pid)
    SELECT CASE
      WHEN lastp IS NOT NULL AND lastp <= DATE '{prev}' - {a.churned_days}
           AND last > DATE '{end}' - {a.active_days} THEN 'recalled'
      WHEN core >= {a.core_min_days} THEN 'core'
      WHEN last > DATE '{end}' - {a.active_days} THEN 'active'
      WHEN coalesce(prior, 0) >= {a.risk_min_days} THEN 'churn_risk'
      WHEN last > DATE '{end}' - {a.churned_days} THEN 'silent'
      ELSE 'churned' END AS layer, count(*) AS n
    FROM f LEFT JOIN r USING (pid) GROUP BY layer
    """
    counts = {r["layer"]: int(r["n"]) for r in store.query(layers).to_pylist()}
    return groups, counts


# ---- pandas -------------------------------------------------------------------------------


def load_frame(store: DuckDBStore, end: date) -> dict[str, Any]:
    """The needed columns in memory: events (person resolved) and the purchase subset."""
    stop = _utc(end + timedelta(days=1))
    mapping = store.query(PERSON_MAP).to_pandas()
    ev = store.query(
        f"SELECT e.distinct_id, e.person_id, e.event = 'purchase' AS buy, e.revenue, "
        f"epoch_us(e.timestamp) AS us FROM events e WHERE e.project_id = {PROJECT_ID} "
        f"AND e.timestamp < TIMESTAMP '{stop}'"
    ).to_pandas()
    return {"events": ev, "map": mapping}


def pandas_(frame: dict[str, Any], end: date) -> tuple[Counts, Counts]:
    ev, mapping = frame["events"], frame["map"]
    pid_of = pd.Series(mapping.pid.values, index=mapping.distinct_id.values)
    pid = ev.distinct_id.map(pid_of).fillna(ev.person_id)
    day0 = np.datetime64(end, "D")
    # local day number relative to the end (0 = the end day), Asia/Shanghai = UTC+8
    d = (ev.us.values + 8 * 3_600_000_000) // 86_400_000_000 - day0.astype(np.int64)

    # RFM
    first = -(S.rfm.window_days - 1)
    sel = ev.buy.values & (d >= first)
    b = pd.DataFrame({"pid": pid.values[sel], "d": d[sel], "rev": ev.revenue.values[sel]})
    a = b.groupby("pid").agg(rec=("d", "max"), fr=("d", "size"), mo=("rev", "sum"))
    a["rec"] = -a.rec
    n = max(len(a) - 1, 1)

    def score(col: pd.Series, ascending: bool) -> pd.Series:
        worse = col.rank(method="min", ascending=ascending) - 1
        return np.minimum(5, 1 + (5 * worse // n)).astype(int)

    r, f, m = score(a.rec, False), score(a.fr, True), score(a.mo, True)
    code = (r > r.mean()) * 4 + (f > f.mean()) * 2 + (m > m.mean()) * 1
    groups = {CODE_TO_GROUP[int(k)]: int(v) for k, v in code.value_counts().items()}

    # layers
    s = S.activity
    days = pd.DataFrame({"pid": pid.values, "d": d}).drop_duplicates()
    prev = -s.recall_lookback_days
    g = days.groupby("pid").d
    f_ = pd.DataFrame(
        {
            "last": g.max(),
            "lastp": days[days.d <= prev].groupby("pid").d.max(),
            "core": days[days.d > -s.core_window_days].groupby("pid").size(),
        }
    )
    f_["core"] = f_.core.fillna(0)
    risky = f_[(f_["last"] > -s.churned_days) & (f_["last"] <= -s.risk_inactive_days)]
    j = days.merge(risky[["last"]], left_on="pid", right_index=True)
    j = j[(j.d > j["last"] - s.risk_prior_days) & (j.d <= j["last"])]
    f_["prior"] = j.groupby("pid").size()
    f_["prior"] = f_.prior.fillna(0)
    last, lastp = f_["last"], f_["lastp"]
    layer = np.select(
        [
            lastp.notna() & (lastp <= prev - s.churned_days) & (last > -s.active_days),
            f_.core >= s.core_min_days,
            last > -s.active_days,
            f_.prior >= s.risk_min_days,
            last > -s.churned_days,
        ],
        ["recalled", "core", "active", "churn_risk", "silent"],
        default="churned",
    )
    counts = {str(k): int(v) for k, v in pd.Series(layer).value_counts().items()}
    return groups, counts


# ---- main ---------------------------------------------------------------------------------


def cpu_seconds(fn: Callable[[], Any], repeat: int) -> float:
    """Median process CPU time (all threads) of ``fn``: a figure that other work on the
    machine inflates far less than wall time (DuckDB uses every core it is given)."""

    def now() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    runs = []
    for _ in range(repeat):
        c0 = now()
        fn()
        runs.append(now() - c0)
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=PERSONS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--publish", action="store_true", help="also time compute_and_publish")
    parser.add_argument(
        "--report", action="store_true", help="also write the section of docs/benchmarks.md"
    )
    args = parser.parse_args(argv)

    store, _, end = people_dataset(persons=args.persons, read_only=not args.publish)
    n_events = store.query("SELECT count(*) AS n FROM events").column("n")[0].as_py()
    log(f"{args.persons:,} persons, {n_events:,} events, as of {end}")

    t_yy, yy = timed(lambda: yunying(store, end), repeat=args.repeat)
    c_yy = cpu_seconds(lambda: yunying(store, end), args.repeat)
    log(f"yunying  {t_yy.median:.2f} s ({c_yy:.2f} CPU s)")
    t_sql, hand = timed(lambda: sql(store, end), repeat=args.repeat)
    c_sql = cpu_seconds(lambda: sql(store, end), args.repeat)
    log(f"sql      {t_sql.median:.2f} s ({c_sql:.2f} CPU s)")
    t0 = time.perf_counter()
    frame = load_frame(store, end)
    t_load = time.perf_counter() - t0
    t_pd, pdx = timed(lambda: pandas_(frame, end), warmup=0, repeat=max(1, args.repeat - 1))
    c_pd = cpu_seconds(lambda: pandas_(frame, end), 1)
    log(f"pandas   {t_pd.median:.2f} s ({c_pd:.2f} CPU s) (+ {t_load:.2f} s load)")
    for name, other in (("sql", hand), ("pandas", pdx)):
        for i, what in enumerate(("RFM groups", "layers")):
            if yy[i] != other[i]:
                log(f"MISMATCH {what} yunying vs {name}: {yy[i]} != {other[i]}")
                return 1
    rows = [
        ["Yunying (rfm_table + layer_table)", f"{t_yy.median:.2f}", f"{t_yy.best:.2f}",
         f"{c_yy:.2f}", "1.00×"],
        ["hand-written DuckDB SQL (counts only)", f"{t_sql.median:.2f}", f"{t_sql.best:.2f}",
         f"{c_sql:.2f}", ratio(t_yy.median, t_sql.median)],
        ["pandas (columns in memory)", f"{t_pd.median:.2f}", f"{t_pd.best:.2f}", f"{c_pd:.2f}",
         ratio(t_yy.median, t_pd.median)],
        ["pandas: loading the columns", f"{t_load:.2f}", "", "", ""],
    ]  # fmt: skip
    if args.publish:
        from yunying.people.layer_service import compute_and_publish

        t_pub, _ = timed(
            lambda: compute_and_publish(store=store, ctx=context(), settings=S, as_of=end),
            warmup=0,
            repeat=1,
        )
        rows.append(["Yunying compute_and_publish (3 runs written)", f"{t_pub.median:.2f}",
                     f"{t_pub.best:.2f}", "", ""])  # fmt: skip
    store.close()
    header = ["contender", "median s", "best s", "CPU s (median)", "Yunying ÷ contender"]
    verdict = "meets" if t_yy.median <= 5.0 else "misses"
    body = (
        f"{args.persons:,} persons, {n_events:,} events (bench/people_data.py), as of {end}; "
        f"{sum(yy[0].values()):,} buyers in RFM groups, {sum(yy[1].values()):,} persons in "
        f"activity layers; median of {args.repeat} runs after a warm-up. The three answers "
        f"agree (counts per group and per layer). Yunying {verdict} the 5 s target.\n\n"
        + table(rows, header)
        + "\n\nLayers: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(yy[1].items()))
        + ".\n\nRFM groups: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(yy[0].items()))
        + "."
    )
    print(body)
    if args.report:
        update_report("layers", "User layers: RFM + activity layers", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())

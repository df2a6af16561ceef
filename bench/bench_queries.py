"""Query speed on ~10M events: Yunying vs hand-written DuckDB SQL vs pandas.

Three questions, each answered three ways on the same data:
- retention: daily recurring cohorts of ``content_view`` over 30 days, 30 return columns;
- funnel: ``$pageview → content_view → comment_created → share``, ordered, 14-day
  window, entries over 30 days;
- trends: daily unique persons doing ``content_view`` over 90 days, broken down by
  ``channel``.

Yunying is the public ``run_*`` function (SQL generation + DuckDB + shaping the result).
Retention and trends read the store's ``person_days`` summary, the funnel its sorted
``event_timelines`` (both kept up to date by every write's marks and the refresh, see
``store/person_days.py`` and ``store/event_timelines.py``); what keeping them costs is
measured too: a full build, and a refresh after one day was written. The funnel reuses
the months it decoded before (``store/timeline_cache.py``); each query is also timed once
with that cache emptied first.
The hand-written SQL computes the same numbers as directly as one would by hand (still
applying identity merges the way the store keeps them: each event's stamped person,
redirected through ``person_overrides``). pandas starts from the needed columns already
in memory (the load is timed separately) and applies the merges the same way. The three
answers are compared.

    python bench/bench_queries.py                     # 10M events (cached in bench/.data/)
    python bench/bench_queries.py --events 1000000    # quicker
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from common import END, PROJECT_ID, TIMEZONE, log, query_store, ratio, table, timed, update_report

from yunying.analytics.common import Breakdown, DateRange, EventSelector
from yunying.analytics.context import ProjectContext
from yunying.store.duckdb import DuckDBStore

Answer = dict[Any, int]

# ---- the three questions ----------------------------------------------------------------

RET_FROM, RET_TO, RET_PERIODS = END - timedelta(days=59), END - timedelta(days=30), 30
FUN_FROM, FUN_TO, FUN_WINDOW_DAYS = END - timedelta(days=29), END, 14
FUN_STEPS = ["$pageview", "content_view", "comment_created", "share"]
TR_FROM, TR_TO = END - timedelta(days=89), END
CTX = ProjectContext(project_id=PROJECT_ID, timezone=TIMEZONE)


def _utc(d: date) -> str:
    return CTX.day_start_utc(d).strftime("%Y-%m-%d %H:%M:%S")


def _us(d: date) -> int:
    return int(CTX.day_start_utc(d).timestamp() * 1_000_000)


# Persons as the store keeps them: each event's stamped person, redirected for persons
# merged into another since (``person_overrides`` names one of the absorbed ids).
OVERRIDES = (
    f"SELECT o.old_person_id AS old, min(m.pid) AS pid FROM person_overrides o JOIN ("
    f"SELECT distinct_id, arg_max(person_id, version) AS pid FROM person_distinct_ids "
    f"WHERE project_id = {PROJECT_ID} AND distinct_id IN (SELECT distinct_id FROM "
    f"person_overrides) GROUP BY distinct_id) m USING (distinct_id) GROUP BY o.old_person_id"
)
LOCAL_DATE = f"CAST(timezone('{TIMEZONE}', timezone('UTC', e.timestamp)) AS DATE)"


def _from_events(where: str, cols: str) -> str:
    return (
        f"SELECT coalesce(m.pid, e.person_id) AS pid, {cols} FROM events e "
        f"LEFT JOIN m ON m.old = e.person_id "
        f"WHERE e.project_id = {PROJECT_ID} AND {where}"
    )


# retention --------------------------------------------------------------------------------


def yunying_retention(store: DuckDBStore) -> Answer:
    from yunying.analytics.retention import RetentionQuery, run_retention

    q = RetentionQuery(
        start_event=EventSelector(event="content_view"),
        period="day",
        periods=RET_PERIODS,
        date_range=DateRange(date_from=RET_FROM, date_to=RET_TO),
    )
    res = run_retention(store, CTX, q, today=END + timedelta(days=1))
    return {(c.period_start, k): n for c in res.cohorts for k, n in enumerate(c.counts) if n}


def sql_retention(store: DuckDBStore) -> Answer:
    sql = f"""
    WITH m AS ({OVERRIDES}),
    a AS (
      SELECT DISTINCT pid, d FROM ({
        _from_events(
            f"e.event = 'content_view' AND e.timestamp >= TIMESTAMP '{_utc(RET_FROM)}' "
            f"AND e.timestamp < TIMESTAMP '{_utc(RET_TO + timedelta(days=RET_PERIODS + 1))}'",
            f"{LOCAL_DATE} AS d",
        )
    }) x
    )
    SELECT c.d AS cohort, (r.d - c.d) AS k, count(*) AS n
    FROM a c JOIN a r ON r.pid = c.pid AND r.d >= c.d AND r.d <= c.d + {RET_PERIODS}
    WHERE c.d BETWEEN DATE '{RET_FROM}' AND DATE '{RET_TO}'
    GROUP BY ALL
    """
    return {(r["cohort"], int(r["k"])): int(r["n"]) for r in store.query(sql).to_pylist()}


def pandas_retention(f: Frame) -> Answer:
    lo, hi = _us(RET_FROM), _us(RET_TO + timedelta(days=RET_PERIODS + 1))
    sel = f.is_event("content_view") & (f.ts >= lo) & (f.ts < hi)
    a = pd.DataFrame({"pid": f.pids()[sel], "d": f.local_day(f.ts[sel])}).drop_duplicates()
    d0, d1 = f.day_number(RET_FROM), f.day_number(RET_TO)
    c = a[(a.d >= d0) & (a.d <= d1)]
    j = c.merge(a, on="pid", suffixes=("_c", "_r"))
    k = j.d_r - j.d_c
    j = j[(k >= 0) & (k <= RET_PERIODS)]
    counts = j.groupby([j.d_c, j.d_r - j.d_c]).size()
    return {(f.day_date(dc), int(kk)): int(n) for (dc, kk), n in counts.items()}


# funnel -----------------------------------------------------------------------------------


def yunying_funnel(store: DuckDBStore) -> Answer:
    from yunying.analytics.funnels import FunnelQuery, run_funnel

    q = FunnelQuery(
        steps=[EventSelector(event=s) for s in FUN_STEPS],
        date_range=DateRange(date_from=FUN_FROM, date_to=FUN_TO),
        window=FUN_WINDOW_DAYS,
        window_unit="days",
    )
    res = run_funnel(store, CTX, q)
    return {s.step: s.count for s in res.steps}


def sql_funnel(store: DuckDBStore) -> Answer:
    w = FUN_WINDOW_DAYS * 86_400_000_000
    lo, hi = _us(FUN_FROM), _us(FUN_TO + timedelta(days=1))
    names = ", ".join(f"'{s}'" for s in FUN_STEPS)
    end = FUN_TO + timedelta(days=1 + FUN_WINDOW_DAYS)
    ev = _from_events(
        f"e.event IN ({names}) AND e.timestamp >= TIMESTAMP '{_utc(FUN_FROM)}' "
        f"AND e.timestamp < TIMESTAMP '{_utc(end)}'",
        "e.event AS event, epoch_us(e.timestamp) AS t",
    )
    steps = "".join(
        f", s{k} AS (SELECT pid, t FROM ev WHERE event = '{s}')"
        for k, s in enumerate(FUN_STEPS[1:], 2)
    )
    chain = "".join(
        f", a{k} AS (SELECT a.pid, a.t1, s.t AS t{k} FROM a{k - 1} a ASOF JOIN s{k} s "
        f"ON a.pid = s.pid AND s.t > a.t{k - 1} WHERE s.t <= a.t1 + {w})"
        for k in range(2, len(FUN_STEPS) + 1)
    )
    counts = ", ".join(
        f"(SELECT count(DISTINCT pid) FROM a{k}) AS n{k}" for k in range(1, len(FUN_STEPS) + 1)
    )
    sql = (
        f"WITH m AS ({OVERRIDES}), ev AS ({ev}), "
        f"a1 AS (SELECT pid, t AS t1 FROM ev WHERE event = '{FUN_STEPS[0]}' "
        f"AND t >= {lo} AND t < {hi}){steps}{chain} SELECT {counts}"
    )
    row = store.query(sql).to_pylist()[0]
    return {k: int(row[f"n{k}"]) for k in range(1, len(FUN_STEPS) + 1)}


def pandas_funnel(f: Frame) -> Answer:
    w = FUN_WINDOW_DAYS * 86_400_000_000
    lo, hi = _us(FUN_FROM), _us(FUN_TO + timedelta(days=1))
    in_time = (f.ts >= lo) & (f.ts < hi + w)
    pids = f.pids()
    first = f.is_event(FUN_STEPS[0]) & (f.ts >= lo) & (f.ts < hi)
    a = pd.DataFrame({"pid": pids[first], "t1": f.ts[first]})
    a["prev"] = a.t1
    out = {1: int(a.pid.nunique())}
    for k, name in enumerate(FUN_STEPS[1:], 2):
        sel = f.is_event(name) & in_time
        s = pd.DataFrame({"pid": pids[sel], "t": f.ts[sel]}).sort_values("t")
        a = pd.merge_asof(
            a.sort_values("prev"),
            s,
            left_on="prev",
            right_on="t",
            by="pid",
            direction="forward",
            allow_exact_matches=False,
        )
        a = a[a.t.notna() & (a.t <= a.t1 + w)]
        a = a.assign(prev=a.t.astype(np.int64)).drop(columns="t")
        out[k] = int(a.pid.nunique())
    return out


# trends -----------------------------------------------------------------------------------


def yunying_trends(store: DuckDBStore) -> Answer:
    from yunying.analytics.trends import TrendsQuery, run_trends

    q = TrendsQuery(
        series=[EventSelector(event="content_view")],
        math="unique_persons",
        interval="day",
        date_range=DateRange(date_from=TR_FROM, date_to=TR_TO),
        breakdown=Breakdown(property="channel"),
    )
    res = run_trends(store, CTX, q)
    out: Answer = {}
    for s in res.series:
        for p, v in zip(s.periods, s.values, strict=True):
            if v:
                out[(s.breakdown_value, p)] = int(v)
        out[(s.breakdown_value, None)] = int(s.aggregate or 0)
    return out


def sql_trends(store: DuckDBStore) -> Answer:
    ev = _from_events(
        f"e.event = 'content_view' AND e.timestamp >= TIMESTAMP '{_utc(TR_FROM)}' "
        f"AND e.timestamp < TIMESTAMP '{_utc(TR_TO + timedelta(days=1))}'",
        f"{LOCAL_DATE} AS d, coalesce(e.channel, '$none') AS channel",
    )
    sql = (
        f"WITH m AS ({OVERRIDES}), e AS ({ev}) SELECT channel, d, count(DISTINCT pid) AS n "
        f"FROM e GROUP BY GROUPING SETS ((channel, d), (channel))"
    )
    return {(r["channel"], r["d"]): int(r["n"]) for r in store.query(sql).to_pylist()}


def pandas_trends(f: Frame) -> Answer:
    lo, hi = _us(TR_FROM), _us(TR_TO + timedelta(days=1))
    sel = f.is_event("content_view") & (f.ts >= lo) & (f.ts < hi)
    df = pd.DataFrame(
        {
            "pid": f.pids()[sel],
            "d": f.local_day(f.ts[sel]),
            "channel": f.channel[sel].astype(str),
        }
    )
    daily = df.groupby(["channel", "d"]).pid.nunique()
    total = df.groupby("channel").pid.nunique()
    out: Answer = {(c, f.day_date(d)): int(n) for (c, d), n in daily.items()}
    out.update({(c, None): int(n) for c, n in total.items()})
    return out


# ---- the in-memory frame pandas starts from -----------------------------------------------


class Frame:
    """Columns pandas needs, loaded once: events with categorical ids, and the id map.

    Local days use the zone's fixed UTC offset (right for zones without daylight saving,
    such as Asia/Shanghai), the fastest way to do it in pandas.
    """

    def __init__(self, store: DuckDBStore) -> None:
        ev = store.query(
            f"SELECT person_id, event, epoch_us(timestamp) AS ts, channel "
            f"FROM events WHERE project_id = {PROJECT_ID}"
        ).to_pandas(strings_to_categorical=True)
        self.person_id: pd.Categorical = ev.person_id.array  # type: ignore[assignment]
        self.event: pd.Categorical = ev.event.array  # type: ignore[assignment]
        self.ts = ev.ts.to_numpy()
        self.channel = ev.channel.cat.add_categories("$none").fillna("$none").to_numpy()
        ov = store.query(OVERRIDES).to_pandas()
        self.overrides = pd.Series(ov.pid.to_numpy(), index=ov.old.to_numpy())
        self._event_codes = {c: i for i, c in enumerate(self.event.categories)}
        offset = CTX.tz.utcoffset(datetime(2024, 1, 1))
        self._shift_us = int(offset.total_seconds()) * 1_000_000  # type: ignore[union-attr]

    def is_event(self, name: str) -> np.ndarray:
        return np.asarray(self.event.codes == self._event_codes.get(name, -2))

    def pids(self) -> np.ndarray:
        """Person (as an integer code) of every event, after identity merges: the stamped
        person, redirected through the overrides (done on the categories, not per event)."""
        stamped = pd.Series(np.asarray(self.person_id.categories))
        mapped = stamped.map(self.overrides).astype(object)
        current = mapped.where(mapped.notna(), stamped.astype(object))
        return pd.factorize(current.to_numpy())[0][self.person_id.codes]

    def local_day(self, ts: np.ndarray) -> np.ndarray:
        """Local day number (days since 1970-01-01) of UTC microseconds."""
        return (ts + self._shift_us) // 86_400_000_000

    @staticmethod
    def day_number(d: date) -> int:
        return (d - date(1970, 1, 1)).days

    @staticmethod
    def day_date(n: int) -> date:
        return date(1970, 1, 1) + timedelta(days=int(n))


# ---- running -----------------------------------------------------------------------------


def measure_upkeep(db: Any) -> str:
    """What keeping ``person_days`` and ``event_timelines`` costs on this store: a full
    build of both (and of the timelines alone), and the refresh after a day of events was
    written (marked stale by the write). The queries then run on the tables as a live
    store has them: the timelines with the refreshed day as a run of its own."""
    from yunying.store.event_timelines import refresh_timelines
    from yunying.store.person_days import refresh_person_days

    store = DuckDBStore(db)
    p = PROJECT_ID
    try:
        for table in ("person_days_state", "event_timelines_state"):
            store.query(f"DELETE FROM {table} WHERE project_id = {p}")
        t0 = time.perf_counter()
        refresh_person_days(store, p, TIMEZONE)
        full = time.perf_counter() - t0
        store.query(f"DELETE FROM event_timelines_state WHERE project_id = {p}")
        t0 = time.perf_counter()
        store.run_transaction(lambda ex: refresh_timelines(ex, store.dialect, p, set()))
        timelines = time.perf_counter() - t0
        store.query(f"INSERT INTO person_days_dirty VALUES ({p}, DATE '{END - timedelta(days=1)}')")
        t0 = time.perf_counter()
        done = refresh_person_days(store, p, TIMEZONE)
        one = time.perf_counter() - t0
        rows = store.query("SELECT count(*) AS n FROM person_days").column("n")[0].as_py()
    finally:
        store.close()
    return (
        f"person_days + event_timelines upkeep: {rows:,} person_days rows; full build of both "
        f"{full:.2f} s (event_timelines alone {timelines:.2f} s); refresh after one day "
        f"written ({done.days} local days rebuilt) {one:.3f} s"
    )


def compare(name: str, a: Answer, b: Answer, c: Answer | None) -> str:
    diffs = [k for k in set(a) | set(b) if a.get(k, 0) != b.get(k, 0)]
    if c is not None:
        diffs += [k for k in set(a) | set(c) if a.get(k, 0) != c.get(k, 0)]
    if diffs:
        log(f"  {name}: {len(diffs)} cells differ, e.g. {sorted(map(str, diffs))[:3]}")
        for k in list(diffs)[:3]:
            log(
                f"    {k}: yunying={a.get(k)} sql={b.get(k)} "
                f"pandas={None if c is None else c.get(k)}"
            )
        return "NO"
    return "yes"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000, help="dataset size (events)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per engine (after 1 warm-up)")
    ap.add_argument("--pandas-repeat", type=int, default=1, help="timed pandas runs (no warm-up)")
    ap.add_argument("--no-pandas", action="store_true", help="skip pandas")
    ap.add_argument("--no-report", action="store_true", help="do not update docs/benchmarks.md")
    args = ap.parse_args(argv)

    db = query_store(args.events)
    upkeep = measure_upkeep(db)
    print(upkeep)
    store = DuckDBStore(db, read_only=True)
    n_events = store.query("SELECT count(*) AS n FROM events").column("n")[0].as_py()
    n_persons = store.query("SELECT count(*) AS n FROM persons").column("n")[0].as_py()
    print(f"dataset: {n_events:,} events, {n_persons:,} persons ({db.name})")
    frame = None
    load_s = 0.0
    if not args.no_pandas:
        t0 = time.perf_counter()
        frame = Frame(store)
        load_s = time.perf_counter() - t0
        print(f"pandas: columns loaded into memory in {load_s:.1f} s (not in the timings)")

    cases = [
        ("retention (30 daily cohorts × 30 days)", yunying_retention, sql_retention,
         pandas_retention),
        ("funnel (4 steps, 30 days, 14-day window)", yunying_funnel, sql_funnel, pandas_funnel),
        ("trends (daily unique persons by channel, 90 days)", yunying_trends, sql_trends,
         pandas_trends),
    ]  # fmt: skip
    rows = []
    for name, yy, hand, pdf in cases:
        print(f"\n{name}")
        ty, ay = timed(lambda yy=yy: yy(store), repeat=args.repeat)
        print(f"  yunying     median {ty.median:7.3f} s  best {ty.best:7.3f} s")
        store.timeline_cache.clear()  # a funnel's months read from the file again
        t0 = time.perf_counter()
        yy(store)
        cold = time.perf_counter() - t0
        print(f"  yunying, timeline cache emptied first: {cold:7.3f} s")
        th, ah = timed(lambda hand=hand: hand(store), repeat=args.repeat)
        print(f"  handwritten median {th.median:7.3f} s  best {th.best:7.3f} s")
        tp = ap_ = None
        if frame is not None:
            tp, ap_ = timed(lambda pdf=pdf: pdf(frame), warmup=0, repeat=args.pandas_repeat)
            print(f"  pandas      median {tp.median:7.3f} s")
        agree = compare(name, ay, ah, ap_)
        print(
            f"  yunying/handwritten {ratio(ty.median, th.median)}"
            + (f"  pandas/yunying {ratio(tp.median, ty.median)}" if tp else "")
            + (f" (cache emptied {ratio(tp.median, cold)})" if tp else "")
            + f"  answers agree: {agree}"
        )
        rows.append(
            [
                name,
                f"{ty.median:.3f}",
                f"{cold:.3f}",
                f"{th.median:.3f}",
                f"{tp.median:.2f}" if tp else "—",
                ratio(ty.median, th.median),
                ratio(tp.median, ty.median) if tp else "—",
                ratio(tp.median, cold) if tp else "—",
                agree,
            ]
        )
    header = ["query", "Yunying s", "cache emptied s", "hand SQL s", "pandas s", "Yunying/hand",
              "pandas/Yunying", "pandas/cache emptied", "agree"]  # fmt: skip
    result = table(rows, header)
    print("\n" + result)
    if not args.no_report:
        body = (
            f"Dataset: the demo product (`yunying.demo`, seed fixed, 90 days ending {END}), "
            f"{n_events:,} events, {n_persons:,} persons, bulk-loaded into a DuckDB event "
            f"store file (see `bench/common.py`). Median of {args.repeat} runs after one "
            f"warm-up for Yunying and the hand-written SQL; pandas: {args.pandas_repeat} run(s) "
            f"on columns already in memory (loading them took {load_s:.1f} s, not counted). "
            "The warm-up also fills the store's cache of decoded `event_timelines` months "
            "(`store/timeline_cache.py`), which the funnel reuses as any later funnel over "
            "those months would; *cache emptied* is one more run after emptying it, so the "
            "funnel reads its months from the file again (retention and trends do not use "
            "it).\n\n"
            f"{result}\n\n{upkeep}\n\n"
            f"Command: `python bench/bench_queries.py --events {args.events}"
            + (f" --repeat {args.repeat}" if args.repeat != 3 else "")
            + (f" --pandas-repeat {args.pandas_repeat}" if args.pandas_repeat != 1 else "")
            + "`"
        )
        update_report("queries", "Queries (retention, funnel, trends)", body)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The user-operations benchmark dataset: 1,000,000 persons, ~10M events over 90 days.

Shared by the segments, layers and churn benchmarks. Built once with DuckDB SQL straight
into an event-store file (``bench/.data/people-v<N>-<persons>p-90d.duckdb``, gitignored)
and reused; ``python bench/people_data.py --rebuild`` builds it again. Building 1M persons
takes about a minute on 2 cores. Every random draw is a hash of (person, day, event, salt),
so a rebuild gives the same persons, days and event names (only event uuids differ).

Shape (project ``PROJECT_ID`` = 1, time zone Asia/Shanghai, days ``END - 89 … END`` with
``END`` = 2024-06-30, the same constants as ``bench/common.py``):

- **Persons** arrive uniformly over the 90 days (first-seen day), each in one activity
  class: *heavy* 1% (active ~70% of days, ~8 events a day, rarely stop), *regular* 14%
  (~30% of days, ~4.5 events, stop after ~40 days on average), *light* 35% (~12% of days,
  ~3 events, stop after ~15 days) and *one-off* 50% (one to three days, then gone). So
  activity is skewed: a few heavy users, many light ones, and many who stop.
- **Events** per active day are a session of 1+ events (2+ on the first day) a couple of
  minutes apart. Names:
  ``$pageview``, ``view_content``, ``post``, ``comment``, ``share``, ``check_in``,
  ``signup`` (the second event of the first day, for ~70% of persons) and ``purchase``
  (payers only: 60% of heavy, 30% of regular, 10% of light, 3% of one-off persons; ~6% of
  a payer's events after the first two). A purchase carries its amount (6, 30, 68, 128,
  328 or 648) in the promoted ``revenue`` column and the ``$revenue`` property.
- **First touch**: each person's first event is a ``$pageview`` with ``utm_source`` and
  ``channel`` (promoted columns and properties): organic, wechat, douyin, xiaohongshu,
  baidu, weibo or referral, with organic and wechat most common.
- **Identity**: every person has a ``persons`` row (properties ``name``, ``city``,
  ``gender``, ``age``, ``plan``; ``created_at`` = first event) and a
  ``person_distinct_ids`` row for its user id ``u<i>``. About 35% first came as an
  anonymous visitor ``a<i>`` whose first two events carry that id; both ids map to one
  person whose id is ``person_uuid(1, "a<i>")`` (the pipeline's rule: the first id's uuid).
  For those persons the events of ``u<i>`` keep ``person_uuid(1, "u<i>")`` in the
  informational ``events.person_id`` column, as if the merge arrived late, so a query
  that skips query-time resolution through ``person_distinct_ids`` gets wrong counts.

    from people_data import people_dataset
    store, project_id, end = people_dataset()              # cached after the first build
    store, project_id, end = people_dataset(persons=100_000)  # a smaller one, own file

Run ``python bench/people_data.py`` to build (or show) it and print its summary.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
from common import DATA, DAYS, END, PROJECT_ID, TIMEZONE, log, upgraded

from yunying.analytics.context import ProjectContext
from yunying.events.model import YUNYING_NS
from yunying.store.duckdb import DuckDBStore

PEOPLE_VERSION = 1  # bump when the shape below changes
PERSONS = 1_000_000
CHANNELS = ["organic", "wechat", "douyin", "xiaohongshu", "baidu", "weibo", "referral"]
CITIES = ["上海", "北京", "广州", "深圳", "杭州", "成都", "武汉", "南京"]
PRICES = [6, 30, 68, 128, 328, 648]


def dataset_path(persons: int = PERSONS) -> Path:
    return DATA / f"people-v{PEOPLE_VERSION}-{persons}p-{DAYS}d.duckdb"


def people_dataset(
    *, persons: int = PERSONS, rebuild: bool = False, read_only: bool = False
) -> tuple[DuckDBStore, int, date]:
    """The cached dataset as an open store, its project id and its last day (local)."""
    path = dataset_path(persons)
    if rebuild or not path.exists():
        build(path, persons)
    return DuckDBStore(upgraded(path), read_only=read_only), PROJECT_ID, END


def context() -> ProjectContext:
    """The project context the dataset was generated for (time zone, Monday weeks)."""
    return ProjectContext(project_id=PROJECT_ID, timezone=TIMEZONE)


def _person_uuid_table(con: duckdb.DuckDBPyConnection, persons: int) -> None:
    """uuid5 person ids of ``a<i>`` and ``u<i>`` (exactly the pipeline's ``person_uuid``)."""
    names = [f"a{i}" for i in range(persons)] + [f"u{i}" for i in range(persons)]
    ids = [str(uuid.uuid5(YUNYING_NS, f"{PROJECT_ID}\x1f{n}")) for n in names]
    con.register("_uuids", pa.table({"name": names, "pid": ids}))
    con.execute("CREATE TEMP TABLE uid AS SELECT * FROM _uuids")
    con.unregister("_uuids")


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v + "'" for v in values) + "]"


def build(path: Path, persons: int = PERSONS) -> None:
    """Generate the dataset into ``path`` (replacing it) with set-based DuckDB SQL."""
    t0 = time.perf_counter()
    log(f"building the people dataset: {persons:,} persons, {DAYS} days → {path.name}")
    tmp = path.with_suffix(".tmp.duckdb")
    tmp.unlink(missing_ok=True)
    Path(str(tmp) + ".wal").unlink(missing_ok=True)
    store = DuckDBStore(tmp)
    store.ensure_schema()
    store.close()

    con = duckdb.connect(str(tmp))
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")
    day0 = END - timedelta(days=DAYS - 1)
    # Local midnight of day 0 in UTC (Asia/Shanghai is UTC+8 without DST).
    utc0 = f"TIMESTAMP '{day0.isoformat()} 00:00:00' - INTERVAL 8 HOUR"
    # u(a, b, c): a uniform draw in [0, 1) from a hash; deterministic across runs.
    con.execute(
        "CREATE MACRO u(a, b, c) AS "
        "(hash(CAST(a AS BIGINT), CAST(b AS BIGINT), CAST(c AS BIGINT)) % 1000003) / 1000003.0"
    )
    _person_uuid_table(con, persons)

    con.execute(
        f"""
        CREATE TEMP TABLE p AS
        WITH base AS (
            SELECT i, u(i, 0, 1) AS uc,
                   CAST(floor(u(i, 0, 2) * {DAYS}) AS INTEGER) AS first_day,
                   u(i, 0, 3) AS ulife, u(i, 0, 4) AS upay, u(i, 0, 5) AS umerge
            FROM range({persons}) t(i)
        ), cls AS (
            SELECT *, CASE WHEN uc < 0.01 THEN 'heavy' WHEN uc < 0.15 THEN 'regular'
                           WHEN uc < 0.50 THEN 'light' ELSE 'oneoff' END AS class
            FROM base
        )
        SELECT i, class, first_day,
               least({DAYS - 1}, first_day + CASE class
                   WHEN 'heavy' THEN CASE WHEN ulife < 0.9 THEN {DAYS}
                                          ELSE CAST(-ln(1 - ulife) * 30 AS INTEGER) END
                   WHEN 'regular' THEN CAST(-ln(1 - ulife) * 40 AS INTEGER)
                   WHEN 'light' THEN CAST(-ln(1 - ulife) * 15 AS INTEGER)
                   ELSE CAST(floor(ulife * 3) AS INTEGER) END) AS last_day,
               CASE class WHEN 'heavy' THEN 0.7 WHEN 'regular' THEN 0.3
                          WHEN 'light' THEN 0.12 ELSE 0.5 END AS p_active,
               CASE class WHEN 'heavy' THEN 8.0 WHEN 'regular' THEN 4.5
                          WHEN 'light' THEN 3.0 ELSE 2.5 END AS per_day,
               upay < CASE class WHEN 'heavy' THEN 0.60 WHEN 'regular' THEN 0.30
                                 WHEN 'light' THEN 0.10 ELSE 0.03 END AS payer,
               umerge < 0.35 AS merged
        FROM cls
        """
    )
    # Active days: the first day always, later days of the lifetime with p_active.
    con.execute(
        """
        CREATE TEMP TABLE d AS
        SELECT i, d, payer, merged, first_day,
               (CASE WHEN d = first_day THEN 2 ELSE 1 END)
               + CAST(floor(-ln(1 - u(i, d, 6)) * (per_day - 1)) AS INTEGER) AS n
        FROM (SELECT i, payer, merged, first_day, p_active, per_day,
                     unnest(range(first_day, last_day + 1)) AS d FROM p)
        WHERE d = first_day OR u(i, d, 7) < p_active
        """
    )
    con.execute(
        f"""
        CREATE TEMP TABLE ev AS
        WITH k AS (
            SELECT i, d, payer, merged, d = first_day AS first, n,
                   unnest(range(least(n, 40))) AS k,
                   CAST(floor(u(i, d, 8) * (86400 - 120 * least(n, 40))) AS INTEGER) AS s0
            FROM d
        ), named AS (
            SELECT i, d, k, merged, first, s0 + 120 * k + CAST(floor(u(i, d * 64 + k, 9) * 119)
                   AS INTEGER) AS sec,
                   u(i, d * 64 + k, 10) AS ue, u(i, d * 64 + k, 11) AS ur,
                   CASE
                     WHEN first AND k = 0 THEN '$pageview'
                     WHEN first AND k = 1 AND u(i, 0, 12) < 0.7 THEN 'signup'
                     WHEN payer AND NOT (first AND k < 2) AND u(i, d * 64 + k, 13) < 0.06
                          THEN 'purchase'
                     ELSE CASE
                       WHEN u(i, d * 64 + k, 14) < 0.40 THEN '$pageview'
                       WHEN u(i, d * 64 + k, 14) < 0.67 THEN 'view_content'
                       WHEN u(i, d * 64 + k, 14) < 0.72 THEN 'post'
                       WHEN u(i, d * 64 + k, 14) < 0.82 THEN 'comment'
                       WHEN u(i, d * 64 + k, 14) < 0.88 THEN 'share'
                       ELSE 'check_in' END
                   END AS event
            FROM k
        )
        SELECT i, event,
               CASE WHEN merged AND first AND k < 2 THEN 'a' || i ELSE 'u' || i END AS did,
               {utc0} + INTERVAL (d) DAY + INTERVAL (sec) SECOND AS ts,
               CASE WHEN first AND k = 0 THEN {_sql_list(CHANNELS)}[1 + CAST(floor(
                   CASE WHEN ue < 0.3 THEN 0 WHEN ue < 0.55 THEN 1 ELSE 2 + (ue - 0.55) / 0.45 * 5
                   END) AS INTEGER)] END AS channel,
               CASE WHEN event = 'purchase' THEN {_sql_list([str(p) for p in PRICES])}[
                   1 + CAST(floor(CASE WHEN ur < 0.35 THEN 0 WHEN ur < 0.65 THEN 1
                                       WHEN ur < 0.83 THEN 2 WHEN ur < 0.93 THEN 3
                                       WHEN ur < 0.98 THEN 4 ELSE 5 END) AS INTEGER)]::DOUBLE
               END AS revenue,
               CASE WHEN event IN ('view_content', 'comment', 'share')
                    THEN 'c' || CAST(floor(ur * 5000) AS INTEGER) END AS content_id
        FROM named
        """
    )
    con.execute("BEGIN")
    con.execute(
        f"""
        INSERT INTO person_distinct_ids
        SELECT {PROJECT_ID}, 'u' || p.i, x.pid, 1
        FROM p JOIN uid x ON x.name = CASE WHEN p.merged THEN 'a' ELSE 'u' END || p.i
        UNION ALL
        SELECT {PROJECT_ID}, 'a' || p.i, x.pid, 1
        FROM p JOIN uid x ON x.name = 'a' || p.i WHERE p.merged
        """
    )
    con.execute(
        f"""
        INSERT INTO persons
        SELECT {PROJECT_ID}, x.pid,
               json_object('name', '用户' || p.i,
                           'city', {_sql_list(CITIES)}[
                               1 + CAST(floor(u(p.i, 0, 20) * 8) AS INTEGER)],
                           'gender', CASE WHEN u(p.i, 0, 21) < 0.5 THEN 'f' ELSE 'm' END,
                           'age', 16 + CAST(floor(u(p.i, 0, 22) * 40) AS INTEGER),
                           'plan', CASE WHEN p.payer AND u(p.i, 0, 23) < 0.5 THEN 'vip'
                                        ELSE 'free' END)::VARCHAR,
               f.first_ts, 1
        FROM p
        JOIN uid x ON x.name = CASE WHEN p.merged THEN 'a' ELSE 'u' END || p.i
        JOIN (SELECT i, min(ts) AS first_ts FROM ev GROUP BY i) f ON f.i = p.i
        """
    )
    n = con.execute(
        f"""
        INSERT INTO events
        SELECT gen_random_uuid()::VARCHAR, {PROJECT_ID}, e.event, e.did, x.pid, e.ts, e.ts,
               CASE
                 WHEN e.channel IS NOT NULL THEN json_object(
                     '$current_url', 'https://example.com/', 'utm_source', e.channel,
                     'channel', e.channel)::VARCHAR
                 WHEN e.revenue IS NOT NULL THEN json_object('$revenue', e.revenue)::VARCHAR
                 WHEN e.content_id IS NOT NULL
                      THEN json_object('$content_id', e.content_id)::VARCHAR
                 ELSE '{{}}' END,
               CASE WHEN e.channel IS NOT NULL THEN 'https://example.com/' END,
               NULL, e.channel, e.channel, e.revenue, e.content_id
        FROM ev e JOIN uid x ON x.name = e.did
        ORDER BY e.ts
        """
    ).fetchone()[0]  # type: ignore[index]
    con.execute("COMMIT")
    con.execute("CHECKPOINT")
    con.close()
    path.unlink(missing_ok=True)
    tmp.rename(path)
    log(f"  {n:,} events in {time.perf_counter() - t0:.1f} s")


def summary(store: DuckDBStore) -> str:
    """A few lines describing what is in the file (counts per event, class sizes)."""
    q = store.query
    lines = []
    for table in ("persons", "person_distinct_ids", "events"):
        (count,) = q(f"SELECT count(*) AS n FROM {table}").column("n").to_pylist()
        lines.append(f"{table}: {count:,}")
    by_event = q("SELECT event, count(*) AS n FROM events GROUP BY event ORDER BY n DESC")
    for row in by_event.to_pylist():
        lines.append(f"  {row['event']:<14} {row['n']:>12,}")
    rev = q(
        "SELECT sum(revenue) AS r, count(DISTINCT distinct_id) AS b FROM events "
        "WHERE event = 'purchase'"
    ).to_pylist()[0]
    lines.append(f"revenue {rev['r']:,.0f} from {rev['b']:,} buying distinct ids")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=PERSONS)
    parser.add_argument("--rebuild", action="store_true", help="build the cached file again")
    args = parser.parse_args(argv)
    store, _, end = people_dataset(persons=args.persons, rebuild=args.rebuild, read_only=True)
    print(f"{dataset_path(args.persons)} (last day {end})")
    print(summary(store))
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

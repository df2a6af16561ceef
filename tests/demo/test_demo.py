"""The demo generator: deterministic, realistic in the ways metrics rely on, idempotent."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow.parquet as pq
import pytest

from yunying.config import get_settings
from yunying.demo import DemoSummary, generate_demo, load_demo
from yunying.store.duckdb import DuckDBStore

END = date(2024, 6, 30)
DAYS = 30
PERSONS = 400


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    path = tmp_path_factory.mktemp("demo") / "demo.parquet"
    return generate_demo(path, persons=PERSONS, days=DAYS, seed=11, end=END)


@pytest.fixture(scope="module")
def con(demo: DemoSummary) -> duckdb.DuckDBPyConnection:
    """The generated file as a table, with local (Asia/Shanghai) time and common fields."""
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    c.execute(
        f"""
        CREATE TABLE e AS SELECT uuid, event, distinct_id, timestamp,
            (timestamp AT TIME ZONE 'Asia/Shanghai') AS lt, properties,
            json_extract_string(properties, '$.share_id') AS share_id,
            json_extract_string(properties, '$.channel') AS channel
        FROM read_parquet('{demo.path}')
        """
    )
    return c


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchone()[0]  # type: ignore[index]


def test_file_has_canonical_columns_and_summary_counts(demo: DemoSummary) -> None:
    table = pq.read_table(demo.path)
    assert table.column_names == ["uuid", "event", "distinct_id", "timestamp", "properties"]
    assert table.num_rows == demo.events == sum(demo.by_event.values())
    assert demo.persons == PERSONS
    assert demo.by_event["signup"] == PERSONS
    # Roughly 40–80 events per person over 90 days; 30 days gives somewhat fewer.
    assert 20 <= demo.events / demo.persons <= 120
    expected = "content_view post_created comment_created share check_in purchase invite_sent"
    for name in [*expected.split(), "share_opened", "invite_accepted", "$identify"]:
        assert demo.by_event.get(name, 0) > 0, name


def test_same_seed_same_file_other_seed_other_file(demo: DemoSummary, tmp_path: Path) -> None:
    again = generate_demo(tmp_path / "a.parquet", persons=PERSONS, days=DAYS, seed=11, end=END)
    other = generate_demo(tmp_path / "b.parquet", persons=PERSONS, days=DAYS, seed=12, end=END)
    first = pq.read_table(demo.path)
    assert pq.read_table(again.path).equals(first)
    assert not pq.read_table(other.path).column("uuid").equals(first.column("uuid"))


def test_uuids_unique_and_times_inside_window(con: duckdb.DuckDBPyConnection) -> None:
    assert scalar(con, "SELECT count(*) - count(DISTINCT uuid) FROM e") == 0
    tz = ZoneInfo("Asia/Shanghai")
    lo = datetime.combine(END - timedelta(days=DAYS - 1), datetime.min.time(), tzinfo=tz)
    hi = datetime.combine(END + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    first, last = con.execute(
        "SELECT min(epoch(timestamp)), max(epoch(timestamp)) FROM e"
    ).fetchone()  # type: ignore[misc]
    assert lo.timestamp() <= first
    assert last < hi.timestamp()


def test_every_signup_identifies_an_anonymous_id(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        """
        SELECT count(*), count(DISTINCT anon),
               count(*) FILTER (WHERE anon IS NULL OR anon = distinct_id),
               count(*) FILTER (WHERE json_extract_string(properties, '$."$set".city') IS NULL)
        FROM (SELECT distinct_id, properties,
                     json_extract_string(properties, '$."$anon_distinct_id"') AS anon
              FROM e WHERE event = '$identify')
        """
    ).fetchone()
    assert rows == (PERSONS, PERSONS, 0, 0)
    # Anonymous ids did something before identifying (landing page or opened share).
    before = scalar(
        con,
        """
        SELECT count(DISTINCT i.distinct_id) FROM e i JOIN e a
          ON a.distinct_id = json_extract_string(i.properties, '$."$anon_distinct_id"')
        WHERE i.event = '$identify' AND a.timestamp <= i.timestamp
        """,
    )
    assert before == PERSONS


def test_channels_differ_in_quality(con: duckdb.DuckDBPyConnection) -> None:
    """Activation (3 content views within a day of signup) is best for the app store."""
    rate = dict(
        con.execute(
            """
            SELECT s.channel, avg(CASE WHEN coalesce(v.n, 0) >= 3 THEN 1.0 ELSE 0.0 END)
            FROM e s LEFT JOIN (
                SELECT e.distinct_id, count(*) AS n FROM e JOIN e s2
                  ON s2.distinct_id = e.distinct_id AND s2.event = 'signup'
                WHERE e.event = 'content_view' AND e.timestamp < s2.timestamp + INTERVAL 1 DAY
                GROUP BY e.distinct_id
            ) v ON v.distinct_id = s.distinct_id
            WHERE s.event = 'signup' GROUP BY s.channel
            """
        ).fetchall()
    )
    assert set(rate) >= {"app_store", "douyin", "xiaohongshu", "seo", "offline"}
    assert rate["app_store"] > rate["douyin"] + 0.1
    assert rate["app_store"] > rate["offline"] + 0.15


def test_weekends_peak(con: duckdb.DuckDBPyConnection) -> None:
    per_day = con.execute(
        "SELECT isodow(lt) >= 6 AS weekend, count(*) / count(DISTINCT CAST(lt AS DATE)) "
        "FROM e WHERE lt >= DATE '2024-06-10' GROUP BY 1"
    ).fetchall()
    avg = dict(per_day)
    assert avg[True] > 1.1 * avg[False]


def test_evening_busier_than_night(con: duckdb.DuckDBPyConnection) -> None:
    by_hour = dict(con.execute("SELECT hour(lt), count(*) FROM e GROUP BY 1").fetchall())
    assert by_hour[21] > 3 * by_hour[4]


def test_invites_and_accepts_are_consistent(con: duckdb.DuckDBPyConnection) -> None:
    accepted = scalar(con, "SELECT count(*) FROM e WHERE event = 'invite_accepted'")
    assert accepted and accepted > 0
    orphans = scalar(
        con,
        """
        SELECT count(*) FROM e a
        LEFT JOIN e s ON s.share_id = a.share_id AND s.event IN ('share', 'invite_sent')
        WHERE a.event = 'invite_accepted'
          AND (s.uuid IS NULL
               OR s.distinct_id != json_extract_string(a.properties, '$.referrer_id')
               OR s.timestamp >= a.timestamp)
        """,
    )
    assert orphans == 0
    # The invitee opened that share (as an anonymous visitor) before signing up.
    opened = scalar(
        con,
        """
        SELECT count(*) FROM e a
        JOIN e i ON i.event = '$identify' AND i.distinct_id = a.distinct_id
        JOIN e o ON o.event = 'share_opened' AND o.share_id = a.share_id
          AND o.distinct_id = json_extract_string(i.properties, '$."$anon_distinct_id"')
        WHERE a.event = 'invite_accepted'
        """,
    )
    assert opened == accepted
    assert scalar(con, "SELECT count(DISTINCT share_id) FROM e WHERE event = 'share'") == scalar(
        con, "SELECT count(*) FROM e WHERE event = 'share'"
    )
    sql = "SELECT DISTINCT channel FROM e WHERE event = 'invite_accepted'"
    channels = {r[0] for r in con.execute(sql).fetchall()}
    assert channels <= {"wechat_share", "referral"}


def test_revenue_in_cny(con: duckdb.DuckDBPyConnection) -> None:
    bad = scalar(
        con,
        "SELECT count(*) FROM e WHERE event = 'purchase' AND NOT ("
        "json_extract(properties, '$.\"$revenue\"')::DOUBLE > 0 AND "
        "json_extract_string(properties, '$.currency') = 'CNY')",
    )
    assert bad == 0


def test_load_merges_identities_and_reloading_adds_nothing(tmp_path: Path) -> None:
    settings = get_settings(data_dir=tmp_path)
    store = DuckDBStore()
    store.ensure_schema()
    try:
        first = load_demo(
            settings, store, project_id=1, persons=150, days=14, seed=3, end=END, progress=False
        )
        assert first.inserted == first.events > 0
        again = load_demo(
            settings, store, project_id=1, persons=150, days=14, seed=3, end=END, progress=False
        )
        assert again.inserted == 0
        stored = store.query("SELECT count(*) AS n FROM events").column("n")[0].as_py()
        assert stored == first.events
        # Each signed-up person's anonymous id and user id resolve to one person.
        merged = (
            store.query(
                "SELECT count(*) AS n FROM (SELECT person_id FROM person_distinct_ids "
                "GROUP BY person_id HAVING count(*) >= 2)"
            )
            .column("n")[0]
            .as_py()
        )
        assert merged == first.persons
    finally:
        store.close()


def test_window_ending_now_reproduces_earlier_events(tmp_path: Path) -> None:
    """Without --end, a later run the same day keeps every earlier event and its id."""
    tz = ZoneInfo("Asia/Shanghai")
    morning = datetime(2024, 6, 30, 9, 0, tzinfo=tz)
    evening = datetime(2024, 6, 30, 21, 0, tzinfo=tz)
    kw = {"persons": 150, "days": 10, "seed": 5}
    early = generate_demo(tmp_path / "a.parquet", now=morning, **kw)  # type: ignore[arg-type]
    late = generate_demo(tmp_path / "b.parquet", now=evening, **kw)  # type: ignore[arg-type]
    assert early.date_to == late.date_to == date(2024, 6, 30)
    a = pq.read_table(early.path).to_pandas()
    b = pq.read_table(late.path).to_pandas()
    assert a.timestamp.max() < morning <= b.timestamp.max()
    assert late.events > early.events
    before = b[b.timestamp < morning].reset_index(drop=True)
    assert before.equals(a)

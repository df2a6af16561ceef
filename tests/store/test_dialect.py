"""Literals, identifiers and JSON keys survive hostile input on both engines.

Every user value reaches SQL through these helpers, so this is the injection boundary:
whatever the string, the engine must read back exactly that string.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_store
from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import PropertyFilter
from yunying.analytics.source import events_sql
from yunying.events.model import Event
from yunying.store.base import EventStore, WriteBatch

HOSTILE = [
    "'",
    "''",
    "\\",
    "\\'",
    "'; DROP TABLE events; --",
    '"; DROP TABLE events; --',
    "`) OR 1=1 --",
    "$.a",
    "/a~b",
    "a/b",
    "~1",
    "SELECT * FROM persons",
    "名字 🚀",
    "\n\t\r",
    "{{x}}",
    "%s %d",
]

text = st.text(alphabet=st.characters(blacklist_characters="\x00", codec="utf-8"), max_size=40)


@pytest.fixture(scope="module", params=["duckdb", "clickhouse"])
def engine(request: pytest.FixtureRequest):
    s = make_store(request.param)
    yield s
    s.close()


@pytest.mark.parametrize("value", HOSTILE)
def test_string_literal_round_trips(engine: EventStore, value: str) -> None:
    got = engine.query(f"SELECT {engine.dialect.str_lit(value)} AS v").column("v").to_pylist()
    assert got == [value]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=text)
def test_any_string_literal_round_trips(engine: EventStore, value: str) -> None:
    got = engine.query(f"SELECT {engine.dialect.str_lit(value)} AS v").column("v").to_pylist()
    assert got == [value]


@pytest.mark.parametrize("name", HOSTILE)
def test_identifier_round_trips(engine: EventStore, name: str) -> None:
    sql = f"SELECT 1 AS {engine.dialect.ident(name)}"
    assert engine.query(sql).column_names == [name]


def test_nul_is_refused() -> None:
    from yunying.store.dialect import ClickHouseDialect, DuckDBDialect

    for d in (DuckDBDialect(), ClickHouseDialect()):
        with pytest.raises(ValueError):
            d.str_lit("a\x00b")


@pytest.mark.parametrize("engine_name", ["duckdb", "clickhouse"])
def test_hostile_property_keys_and_values_filter_exactly(engine_name: str) -> None:
    """A filter whose key and value are SQL-looking strings matches only that property."""
    store = make_store(engine_name)
    ts = datetime(2024, 1, 1, tzinfo=UTC)
    events = []
    for i, key in enumerate(HOSTILE):
        events.append(
            Event(
                uuid=f"00000000-0000-4000-8000-{i:012d}",
                project_id=1,
                event="e",
                distinct_id=f"d{i}",
                timestamp=ts,
                received_at=ts,
                properties={key: key, "n": i},
            )
        )
    store.write(WriteBatch(events=events))
    ctx = ProjectContext(1)
    for i, key in enumerate(HOSTILE):
        sql = events_sql(
            store.dialect, ctx, filters=[PropertyFilter(key=key, operator="eq", value=key)]
        )
        got = store.query(sql).column("uuid").to_pylist()
        assert got == [f"00000000-0000-4000-8000-{i:012d}"], key
    # The table is intact after every hostile query.
    assert store.query("SELECT count(*) AS c FROM events").column("c").to_pylist() == [len(HOSTILE)]
    store.close()


@pytest.mark.parametrize(
    ("tz", "utc", "local_day"),
    [
        ("Asia/Shanghai", datetime(2024, 1, 1, 15, 59), date(2024, 1, 1)),
        ("Asia/Shanghai", datetime(2024, 1, 1, 16, 0), date(2024, 1, 2)),
        ("America/New_York", datetime(2024, 3, 10, 4, 59), date(2024, 3, 9)),
        ("America/New_York", datetime(2024, 3, 10, 5, 0), date(2024, 3, 10)),
        ("UTC", datetime(2024, 1, 1, 0, 0), date(2024, 1, 1)),
    ],
)
def test_local_date_matches_zoneinfo(engine: EventStore, tz: str, utc: datetime, local_day: date):
    d = engine.dialect
    sql = f"SELECT {d.local_date(d.ts_lit(utc), tz)} AS v"
    assert engine.query(sql).column("v").to_pylist() == [local_day]


@pytest.mark.parametrize(
    ("day", "week_start", "expected"),
    [
        (date(2024, 1, 3), 1, date(2024, 1, 1)),  # Wednesday → Monday
        (date(2024, 1, 3), 7, date(2023, 12, 31)),  # Wednesday → Sunday
        (date(2024, 1, 7), 1, date(2024, 1, 1)),  # Sunday → previous Monday
        (date(2024, 1, 7), 7, date(2024, 1, 7)),  # Sunday starts its own week
        (date(2024, 1, 1), 1, date(2024, 1, 1)),
    ],
)
def test_week_start(engine: EventStore, day: date, week_start: int, expected: date) -> None:
    d = engine.dialect
    sql = f"SELECT {d.period_of_date(d.date_lit(day), 'week', week_start)} AS v"
    assert engine.query(sql).column("v").to_pylist() == [expected]


def test_month_start_and_arithmetic(engine: EventStore) -> None:
    d = engine.dialect
    x = d.date_lit(date(2024, 2, 29))
    sql = (
        f"SELECT {d.month_start(x)} AS m, {d.add_days(x, 1)} AS n, "
        f"{d.add_months(x, 1)} AS am, {d.days_between(d.date_lit(date(2024, 1, 1)), x)} AS dd"
    )
    row = engine.query(sql).to_pylist()[0]
    assert row == {"m": date(2024, 2, 1), "n": date(2024, 3, 1), "am": date(2024, 3, 29), "dd": 59}


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ('{"k": "v"}', "v"),
        ('{"k": 12}', "12"),
        ('{"k": 1.5}', "1.5"),
        ('{"k": true}', "true"),
        ('{"k": null}', None),
        ('{"j": 1}', None),
        ('{"k": ""}', ""),
    ],
)
def test_json_str_agrees_across_engines(engine: EventStore, doc: str, expected: str | None):
    d = engine.dialect
    sql = f"SELECT {d.json_str(d.str_lit(doc), 'k')} AS v"
    assert engine.query(sql).column("v").to_pylist() == [expected]


def test_fixed_offset_zones_are_detected() -> None:
    from yunying.store.dialect import fixed_offset_seconds

    assert fixed_offset_seconds("Asia/Shanghai") == 8 * 3600
    assert fixed_offset_seconds("UTC") == 0
    assert fixed_offset_seconds("Asia/Kolkata") == 19800
    assert fixed_offset_seconds("America/New_York") is None  # DST
    assert fixed_offset_seconds("Europe/London") is None
    assert fixed_offset_seconds("Not/AZone") is None


@pytest.mark.parametrize("tz", ["Asia/Shanghai", "America/New_York", "Asia/Kolkata"])
def test_fast_and_general_local_time_agree(engine: EventStore, tz: str) -> None:
    """The fixed-offset shortcut gives the same local day and hour as full conversion."""
    from zoneinfo import ZoneInfo

    d = engine.dialect
    for utc in [
        datetime(2024, 1, 1, 15, 59),
        datetime(2024, 7, 1, 16, 30),
        datetime(2025, 3, 9, 7),
    ]:
        sql = f"SELECT {d.local_date(d.ts_lit(utc), tz)} AS v"
        expected = utc.replace(tzinfo=UTC).astimezone(ZoneInfo(tz)).date()
        assert engine.query(sql).column("v").to_pylist() == [expected]

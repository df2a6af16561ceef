"""The ClickHouse *server* path: ``_Server`` (clickhouse-connect over HTTP) end to end.

The server is tests/support/clickhouse_http.py: ClickHouse's HTTP interface in front of
chdb, so the client library is the real one, unchanged, and the SQL runs on the real
ClickHouse engine; only the HTTP front is a harness (see its docstring for what it lacks).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_store
from tests.factories import ev, load
from tests.store.conftest import server_url
from tests.store.test_stores import _ev
from tests.support.clickhouse_http import Running
from yunying.analytics.context import ProjectContext
from yunying.analytics.funnels import FunnelQuery, funnel_persons, run_funnel
from yunying.analytics.lifecycle import LifecycleQuery, run_lifecycle
from yunying.analytics.retention import RetentionQuery, run_retention
from yunying.analytics.trends import TrendsQuery, run_trends
from yunying.config import Settings
from yunying.events.model import Event
from yunying.store.base import DistinctIdRow, EventStore, PersonRow, WriteBatch
from yunying.store.clickhouse import ClickHouseStore, _Server

pytestmark = pytest.mark.clickhouse

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
CTX = ProjectContext(project_id=1)


def _count(store: EventStore, where: str = "1 = 1") -> int:
    return store.query(f"SELECT count() AS c FROM events WHERE {where}").column("c")[0].as_py()


# ---- the store contract over HTTP ------------------------------------------------------


def test_write_dedupes_and_reads_back(server_store: ClickHouseStore) -> None:
    s = server_store
    assert s.write(WriteBatch(events=[_ev(1), _ev(2), _ev(1)])) == 2
    assert s.write(WriteBatch(events=[_ev(2), _ev(3)])) == 1
    assert s.write(WriteBatch(events=[_ev(1, project_id=2)])) == 1
    assert s.existing_uuids(1, [_ev(1).uuid, _ev(9).uuid]) == {_ev(1).uuid}
    assert _count(s) == 4
    s.write(WriteBatch(events=[_ev(7, **{"$current_url": "/a", "$revenue": "12.5", "x": 1})]))
    row = s.query(f"SELECT * FROM events WHERE uuid = '{_ev(7).uuid}'").to_pylist()[0]
    assert row["current_url"] == "/a" and row["revenue"] == 12.5
    assert '"x":1' in row["properties"]
    # Naive UTC, as DuckDB gives, though the server's own zone is Asia/Kolkata.
    assert row["timestamp"] == (T0 + timedelta(seconds=7)).replace(tzinfo=None)


def test_identity_reads_take_the_newest_version(server_store: ClickHouseStore) -> None:
    s = server_store
    s.write(
        WriteBatch(
            persons=[PersonRow(1, "p1", {"a": 1}, T0, 1)],
            distinct_ids=[DistinctIdRow(1, "x", "p1", 1), DistinctIdRow(1, "y", "p2", 1)],
        )
    )
    s.write(
        WriteBatch(
            persons=[PersonRow(1, "p1", {"a": 2, "名": "值"}, T0 + timedelta(days=1), 2)],
            distinct_ids=[DistinctIdRow(1, "y", "p1", 2)],
        )
    )
    assert s.distinct_id_map(1, ["x", "y", "z"]) == {"x": "p1", "y": "p1"}
    assert s.distinct_id_map(2, ["x"]) == {}
    assert sorted(s.person_ids_for(1, ["p1", "p2"])["p1"]) == ["x", "y"]
    assert "p2" not in s.person_ids_for(1, ["p1", "p2"])
    p = s.persons(1, ["p1", "nobody"])
    assert list(p) == ["p1"]
    assert (p["p1"].properties, p["p1"].version) == ({"a": 2, "名": "值"}, 2)
    assert p["p1"].created_at.replace(tzinfo=UTC) == T0


def test_a_large_batch_round_trips(server_store: ClickHouseStore) -> None:
    """Bodies of megabytes and uuid look-ups past one 5000-id chunk, twice for the dedupe."""
    events = [_ev(i, blob="x" * 100) for i in range(12_000)]
    assert server_store.write(WriteBatch(events=events)) == 12_000
    assert server_store.write(WriteBatch(events=[*events[::-1], _ev(12_000)])) == 1
    assert _count(server_store) == 12_001
    assert len(server_store.existing_uuids(1, [e.uuid for e in events])) == 12_000


_project = iter(range(100, 10**6))


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(batches=st.lists(st.lists(st.integers(0, 30), max_size=20), max_size=5))
def test_dedupe_is_exact_for_any_batches(
    server_store: ClickHouseStore, batches: list[list[int]]
) -> None:
    """However events are split into batches and repeated, each uuid is stored once."""
    project = next(_project)  # one store for all examples: each gets its own project
    total = sum(
        server_store.write(WriteBatch(events=[_ev(i, project) for i in b])) for b in batches
    )
    distinct = {i for b in batches for i in b}
    assert total == len(distinct)
    assert _count(server_store, f"project_id = {project}") == len(distinct)


def test_ensure_schema_twice_keeps_the_data(server_store: ClickHouseStore) -> None:
    server_store.write(WriteBatch(events=[_ev(1)]))
    server_store.ensure_schema()
    assert _count(server_store) == 1


# ---- what the URL carries --------------------------------------------------------------


def test_from_settings_uses_the_server(clickhouse_http: Running, tmp_path: Path) -> None:
    settings = Settings(
        event_store="clickhouse", clickhouse_url=server_url(clickhouse_http), data_dir=tmp_path
    )
    store = ClickHouseStore.from_settings(settings)
    try:
        store.ensure_schema()
        marker = next(_project)
        store.write(WriteBatch(events=[_ev(1, marker), _ev(2, marker)]))
        assert _count(store, f"project_id = {marker}") == 2
    finally:
        store.close()
    assert not settings.chdb_path.exists()  # nothing fell back to the in-process engine
    # Another client sees the rows: they are on the server, in the default database.
    other = ClickHouseStore(_Server(server_url(clickhouse_http, "/yunying")), "yunying")
    try:
        assert _count(other, f"project_id = {marker}") == 2
    finally:
        other.close()


def test_from_settings_uses_the_url_database(clickhouse_http: Running, tmp_path: Path) -> None:
    db = f"s_{uuid.uuid4().hex[:8]}"
    url = server_url(clickhouse_http, f"/{db}")
    store = ClickHouseStore.from_settings(
        Settings(event_store="clickhouse", clickhouse_url=url, data_dir=tmp_path)
    )
    try:
        assert store.db == db
        store.ensure_schema()  # its tables go where the client looks
        marker = next(_project)
        store.write(WriteBatch(events=[_ev(1, marker)]))
        assert _count(store, f"project_id = {marker}") == 1
    finally:
        store.close()


def test_the_url_database_is_created_and_current(clickhouse_http: Running) -> None:
    db = f"u_{uuid.uuid4().hex[:8]}"
    backend = _Server(server_url(clickhouse_http, f"/{db}"))
    store = ClickHouseStore(backend, db)
    try:
        assert backend.database == db
        store.ensure_schema()
        got = store.query("SELECT currentDatabase() AS d, count() AS n FROM events").to_pylist()
        assert got == [{"d": db, "n": 0}]
    finally:
        store.close()


def test_url_query_options_reach_client_and_server(clickhouse_http: Running) -> None:
    db = f"o_{uuid.uuid4().hex[:8]}"
    url = server_url(clickhouse_http, f"/{db}", "max_block_size=4321&compress=false")
    tuned = ClickHouseStore(_Server(url), db)
    plain = ClickHouseStore(_Server(server_url(clickhouse_http, f"/{db}")), db)
    sql = "SELECT toUInt64(getSetting('max_block_size')) AS v"
    try:
        assert tuned.query(sql).column("v").to_pylist() == [4321]
        assert plain.query(sql).column("v").to_pylist() != [4321]  # per request, not sticky
    finally:
        tuned.close()
        plain.close()


def test_wrong_password_is_refused(clickhouse_http: Running) -> None:
    with pytest.raises(DatabaseError) as err:
        _Server(server_url(clickhouse_http, password="wrong"))
    assert err.value.code == 516  # AUTHENTICATION_FAILED


def test_https_url_is_spoken_over_tls(clickhouse_http: Running) -> None:
    """The client reads no scheme from a DSN; ``_Server`` passes it, so TLS is attempted
    (and fails here: the harness speaks plain HTTP) instead of silently sending plain text."""
    url = server_url(clickhouse_http).replace("http://", "https://", 1)
    with pytest.raises(OperationalError, match=r"(?i)ssl|tls|wrong version"):
        _Server(url + "?connect_timeout=3&query_retries=0")


def test_server_errors_surface(server_store: ClickHouseStore) -> None:
    with pytest.raises(DatabaseError) as err:
        server_store.query("SELECT * FROM no_such_table")
    assert err.value.code == 60  # UNKNOWN_TABLE


def test_threads_share_one_client(server_store: ClickHouseStore) -> None:
    """The app queries from many threads at once; a session-bound client refuses that."""
    server_store.write(WriteBatch(events=[_ev(i) for i in range(50)]))

    def work(i: int) -> int:
        return _count(server_store, f"timestamp >= '2024-05-01 12:00:{i % 50:02d}'")

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(work, range(64)))
    assert got == [50 - i % 50 for i in range(64)]


# ---- analytics: the server answers as DuckDB does --------------------------------------


def _dataset(seed: int) -> tuple[list[Event], dict[str, str], dict[str, dict[str, Any]]]:
    rnd = random.Random(seed)
    events, used = [], set()
    while len(events) < 500:
        minute = rnd.randrange(45 * 24 * 60)
        person = f"u{rnd.randrange(30)}"
        if (person, minute) in used:  # no ties within a person: "first" is well defined
            continue
        used.add((person, minute))
        props: dict[str, Any] = {}
        if rnd.random() < 0.8:
            props["channel"] = rnd.choice(["seo", "ads", "mail", "direct"])
        if rnd.random() < 0.7:
            props["amount"] = rnd.choice([1, 2.5, 10, 99.9])
        when = datetime(2024, 1, 1) + timedelta(minutes=minute)
        name = rnd.choice(["signup", "pv", "pv", "buy", "share"])
        events.append(ev(person, name, when.strftime("%Y-%m-%d %H:%M"), **props))
    merges = {f"u{i}": f"u{i + 1}" for i in range(0, 12, 3)}
    people = {f"u{i}": {"plan": "pro" if i % 2 else "free"} for i in range(0, 30, 2)}
    return events, merges, people


@pytest.fixture(scope="module")
def engines(clickhouse_http: Running) -> Iterator[tuple[EventStore, ClickHouseStore]]:
    """The same data in DuckDB and on the server."""
    db = f"a_{uuid.uuid4().hex[:12]}"
    server = ClickHouseStore(_Server(server_url(clickhouse_http, f"/{db}")), db)
    duck = make_store("duckdb")
    server.ensure_schema()
    events, merges, people = _dataset(11)
    for s in (duck, server):
        load(s, events, merges=merges, person_props=people)
    yield duck, server
    duck.close()
    server.close()


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, 6)
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_rounded(v) for v in obj]
    return obj


JAN = {"date_from": "2024-01-03", "date_to": "2024-02-10"}
LATER = date(2030, 1, 1)


def _trends(**kw: Any) -> Callable[[EventStore], Any]:
    series = [{"event": e} for e in kw.pop("events", ["pv", "buy"])]
    query = TrendsQuery(series=series, date_range=kw.pop("date_range", JAN), **kw)
    return lambda s: run_trends(s, CTX, query).model_dump()


def _funnel(*steps: str, **kw: Any) -> Callable[[EventStore], Any]:
    query = FunnelQuery(steps=[{"event": e} for e in steps], date_range=JAN, **kw)

    def run(s: EventStore) -> Any:
        people = [
            funnel_persons(s, CTX, query, step, dropped=dropped, limit=1000)
            for step in range(1, len(steps) + 1)
            for dropped in (False, True)
        ]
        return run_funnel(s, CTX, query).model_dump(), people

    return run


def _retention(**kw: Any) -> Callable[[EventStore], Any]:
    query = RetentionQuery(start_event={"event": "signup"}, date_range=JAN, periods=4, **kw)
    return lambda s: run_retention(s, CTX, query, today=LATER).model_dump()


def _lifecycle(**kw: Any) -> Callable[[EventStore], Any]:
    query = LifecycleQuery(event="pv", date_range=JAN, **kw)
    return lambda s: run_lifecycle(s, CTX, query).model_dump()


METRICS = {
    "trends-daily-count": _trends(),
    "trends-weekly-unique-persons": _trends(math="unique_persons", interval="week"),
    "trends-avg-amount-by-channel": _trends(
        events=["buy"], math="avg", math_property="amount", breakdown={"property": "channel"}
    ),
    "trends-median-by-person-plan": _trends(
        events=["pv"],
        math="median",
        math_property="amount",
        breakdown={"property": "plan", "type": "person"},
    ),
    "trends-hourly-sum": _trends(
        events=["buy"],
        math="sum",
        math_property="amount",
        interval="hour",
        date_range={"date_from": "2024-01-10", "date_to": "2024-01-13"},
    ),
    "funnel-ordered": _funnel("signup", "pv", "buy", window=3, window_unit="days"),
    "funnel-strict-by-channel": _funnel(
        "pv", "buy", mode="strict", window=2, window_unit="days", breakdown={"property": "channel"}
    ),
    "funnel-unordered": _funnel("buy", "share", mode="unordered", window=1, window_unit="days"),
    "retention-recurring-daily": _retention(),
    "retention-first-time-weekly": _retention(retention_type="first_time", period="week"),
    "retention-within-by-plan": _retention(mode="within", breakdown={"property": "channel"}),
    "lifecycle-daily": _lifecycle(),
    "lifecycle-weekly": _lifecycle(interval="week"),
}


@pytest.mark.parametrize("metric", METRICS)
def test_metric_agrees_with_duckdb(
    engines: tuple[EventStore, ClickHouseStore], metric: str
) -> None:
    duck, server = engines
    expected = _rounded(METRICS[metric](duck))
    assert _rounded(METRICS[metric](server)) == expected
    assert _some_positive(expected)  # the data reaches the metric: no agreement on nothing


def _some_positive(obj: Any) -> bool:
    if isinstance(obj, bool):
        return False
    if isinstance(obj, int | float):
        return obj > 0
    if isinstance(obj, dict):
        obj = list(obj.values())
    return isinstance(obj, list) and any(_some_positive(v) for v in obj)

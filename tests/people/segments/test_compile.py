"""Every condition type on both engines, with small hand-computed cases."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pytest

from tests.factories import ev, load, pid
from tests.snapshots import assert_matches_snapshot
from yunying.analytics.context import ProjectContext
from yunying.people.segments import dsl
from yunying.people.segments.compile import CompileError, SegmentRef, compile_segment
from yunying.store import derived
from yunying.store.base import EventStore
from yunying.store.dialect import ClickHouseDialect, Dialect, DuckDBDialect

CTX = ProjectContext(project_id=1)  # Asia/Shanghai
TODAY = date(2024, 1, 10)


def members(store: EventStore, definition: Any, resolve: Any = None, **kw: Any) -> set[str]:
    derived.ensure_tables(store)
    sql = compile_segment(
        store.dialect, kw.pop("ctx", CTX), definition, today=TODAY, resolve=resolve, **kw
    )
    rows = store.query(sql + store.dialect.settings_suffix()).to_pylist()
    ids = [r["person_id"] for r in rows]
    assert len(ids) == len(set(ids))
    names = {pid(f"u{i}"): f"u{i}" for i in range(10)}
    return {names.get(i, i) for i in ids}


def behaviour(event: str, cmp: str = "at_least", n: int = 1, **kw: Any) -> dict[str, Any]:
    kw.setdefault("window", {"last_days": 7})
    return {"type": "behaviour", "event": event, "count": {"comparator": cmp, "value": n}, **kw}


def test_behaviour_counts_local_days_and_merged_ids(store: EventStore) -> None:
    load(
        store,
        [
            # last 7 days = 2024-01-04 … 2024-01-10 in Asia/Shanghai
            ev("u1", "buy", "2024-01-04 00:05"),  # first minute inside (UTC: 01-03 16:05)
            ev("u1", "buy", "2024-01-10 23:55"),  # last minute inside
            ev("u2", "buy", "2024-01-03 23:55"),  # one minute too early
            ev("u2", "buy", "2024-01-11 00:01"),  # after today
            ev("anon", "buy", "2024-01-05 10:00"),  # merged into u2 below
            ev("u3", "buy", "2024-01-06 10:00"),
            ev("u3", "buy", "2024-01-06 11:00"),
            ev("u3", "buy", "2024-01-06 12:00"),
            ev("u4", "pv", "2024-01-06 12:00"),
        ],
        merges={"anon": "u2"},
    )
    assert members(store, behaviour("buy")) == {"u1", "u2", "u3"}
    assert members(store, behaviour("buy", "exactly", 2)) == {"u1"}
    assert members(store, behaviour("buy", "at_least", 3)) == {"u3"}
    # at most 1 includes persons who never did it
    assert members(store, behaviour("buy", "at_most", 1)) == {"u2", "u4"}
    assert members(store, behaviour("buy", did=False)) == {"u4"}
    assert members(
        store, behaviour("buy", window={"date_from": "2024-01-03", "date_to": "2024-01-03"})
    ) == {"u2"}


def test_behaviour_event_property_filters(store: EventStore) -> None:
    load(
        store,
        [
            ev("u1", "buy", "2024-01-08 10:00", amount=30, plan="pro"),
            ev("u2", "buy", "2024-01-08 10:00", amount=5, plan="free"),
            ev("u3", "buy", "2024-01-08 10:00", plan="pro"),
            ev("u4", "pv", "2024-01-08 10:00", amount=100),
        ],
    )
    big = behaviour("buy", filters=[{"key": "amount", "operator": "gte", "value": 10}])
    assert members(store, big) == {"u1"}
    pro = behaviour("buy", filters=[{"key": "plan", "operator": "eq", "value": "pro"}])
    assert members(store, pro) == {"u1", "u3"}
    any_event = {"type": "event_property", "key": "amount", "operator": "gt", "value": 20}
    assert members(store, any_event) == {"u1", "u4"}
    only_buy = {**any_event, "event": "buy"}
    assert members(store, only_buy) == {"u1"}


def test_first_did_uses_the_first_ever_event(store: EventStore) -> None:
    load(
        store,
        [
            ev("u1", "signup", "2024-01-05 10:00"),
            ev("u2", "signup", "2023-12-20 10:00"),
            ev("u2", "signup", "2024-01-05 10:00"),  # not their first
            ev("anon", "signup", "2024-01-01 23:59"),  # merged into u3: first is 01-01
            ev("u3", "signup", "2024-01-06 10:00"),
            ev("u4", "signup", "2024-01-07 23:59"),  # last minute of the window
        ],
        merges={"anon": "u3"},
    )
    window = {"date_from": "2024-01-02", "date_to": "2024-01-07"}
    assert members(store, {"type": "first_did", "event": "signup", "window": window}) == {
        "u1",
        "u4",
    }


def test_active_days_counts_distinct_local_days(store: EventStore) -> None:
    load(
        store,
        [
            ev("u1", "pv", "2024-01-09 23:30"),  # two local days, same UTC day
            ev("u1", "pv", "2024-01-10 00:30"),
            ev("u2", "pv", "2024-01-10 08:00"),
            ev("u2", "pv", "2024-01-10 09:00"),  # same day twice
            ev("u3", "pv", "2024-01-08 10:00"),
            ev("anon", "buy", "2024-01-09 10:00"),  # merged into u3
        ],
        merges={"anon": "u3"},
    )
    assert members(store, {"type": "active_days", "at_least": 2, "last_days": 3}) == {"u1", "u3"}
    only_pv = {"type": "active_days", "at_least": 2, "last_days": 3, "event": "pv"}
    assert members(store, only_pv) == {"u1"}
    assert members(store, {"type": "active_days", "at_least": 2, "last_days": 1}) == set()


def test_person_properties(store: EventStore) -> None:
    load(
        store,
        [ev(f"u{i}", "pv", "2024-01-08 10:00") for i in range(6)],
        person_props={
            "u0": {"plan": "pro", "age": 30, "signup": "2024-01-02"},
            "u1": {"plan": "free", "age": 17, "signup": "2024-01-09T23:30:00"},
            "u2": {"plan": "pro-trial", "signup": "2024-01-09T16:30:00Z"},  # 01-10 00:30 local
            "u3": {"age": "45", "signup": "yesterday"},
            "u4": {"plan": None, "vip": True},
        },
    )

    def pp(op: str, key: str = "plan", **kw: Any) -> dict[str, Any]:
        return {"type": "person_property", "key": key, "operator": op, **kw}

    assert members(store, pp("eq", value="pro")) == {"u0"}
    assert members(store, pp("neq", value="pro")) == {"u1", "u2", "u3", "u4", "u5"}
    assert members(store, pp("in", value=["pro", "free"])) == {"u0", "u1"}
    assert members(store, pp("not_in", value=["pro", "free"])) == {"u2", "u3", "u4", "u5"}
    assert members(store, pp("contains", value="pro")) == {"u0", "u2"}
    assert members(store, pp("not_contains", value="pro")) == {"u1", "u3", "u4", "u5"}
    assert members(store, pp("regex", value="^pro$")) == {"u0"}
    assert members(store, pp("is_set")) == {"u0", "u1", "u2"}  # JSON null is not set
    assert members(store, pp("is_not_set")) == {"u3", "u4", "u5"}
    # numeric text reads as a number on both engines (as JSON true reads as 1)
    assert members(store, pp("gt", "age", value=18)) == {"u0", "u3"}
    assert members(store, pp("lte", "age", value=17)) == {"u1"}
    assert members(store, pp("eq", "vip", value=True)) == {"u4"}
    # dates: bare dates and naive times are local (Asia/Shanghai); Z is UTC
    assert members(store, pp("before", "signup", value="2024-01-09")) == {"u0"}
    assert members(store, pp("after", "signup", value="2024-01-09")) == {"u2"}
    assert members(store, pp("before", "signup", days_ago=0)) == {"u0", "u1"}
    assert members(store, pp("within_last_days", "signup", value=1)) == {"u2"}
    assert members(store, pp("within_last_days", "signup", value=2)) == {"u1", "u2"}
    assert members(store, pp("within_last_days", "signup", value=9)) == {"u0", "u1", "u2"}


def test_time_zone_decides_the_window(store: EventStore) -> None:
    load(store, [ev("u1", "buy", "2024-01-03 20:00", tz="UTC")])  # 01-04 04:00 in Shanghai
    window = {"date_from": "2024-01-04", "date_to": "2024-01-04"}
    assert members(store, behaviour("buy", window=window)) == {"u1"}
    utc = ProjectContext(project_id=1, timezone="UTC")
    assert members(store, behaviour("buy", window=window), ctx=utc) == set()


def test_funnel_step(store: EventStore) -> None:
    load(
        store,
        [
            ev("u1", "pv", "2024-01-05 10:00"),
            ev("u1", "signup", "2024-01-05 11:00"),
            ev("u1", "buy", "2024-01-05 12:00"),
            ev("u2", "pv", "2024-01-05 10:00"),
            ev("u2", "signup", "2024-01-07 11:00"),  # outside a 1-day conversion window
            ev("u3", "signup", "2024-01-05 11:00"),  # never entered
            ev("anon", "pv", "2024-01-06 10:00"),
            ev("u4", "signup", "2024-01-06 10:30"),
        ],
        merges={"anon": "u4"},
    )

    def step(k: int) -> dict[str, Any]:
        return {
            "type": "funnel_step",
            "steps": [{"event": "pv"}, {"event": "signup"}, {"event": "buy"}],
            "step": k,
            "conversion_window": 1,
            "window": {"last_days": 10},
        }

    assert members(store, step(1)) == {"u1", "u2", "u4"}
    assert members(store, step(2)) == {"u1", "u4"}
    assert members(store, step(3)) == {"u1"}
    assert members(store, {"op": "not", "condition": step(2)}) == {"u2", "u3"}


def _publish(store: EventStore, name: str, **columns: list[Any]) -> None:
    derived.write_values(store, 1, name, pa.table(columns))


def test_layer_score_and_segments(store: EventStore) -> None:
    load(store, [ev(f"u{i}", "pv", "2024-01-08 10:00") for i in range(5)])
    derived.ensure_tables(store)
    _publish(
        store, "layer:activity", person_id=[pid("u0"), pid("u1")], value_str=["core", "silent"]
    )
    _publish(store, "score:churn_risk", person_id=[pid("u1"), pid("u2")], value_num=[0.9, 0.1])
    _publish(store, "segment:7", person_id=[pid("u3"), pid("u4")])
    layer = {"type": "layer", "scheme": "activity", "values": ["core", "active"]}
    assert members(store, layer) == {"u0"}
    assert members(store, {"op": "not", "condition": layer}) == {"u1", "u2", "u3", "u4"}
    score = {"type": "score", "name": "churn_risk", "operator": "gte", "value": 0.5}
    assert members(store, score) == {"u1"}

    inner = dsl.parse_definition(layer)
    refs = {7: SegmentRef(7, None), 8: SegmentRef(8, inner)}
    assert members(store, {"type": "in_segment", "segment_id": 7}, refs.get) == {"u3", "u4"}
    assert members(store, {"type": "in_segment", "segment_id": 8}, refs.get) == {"u0"}
    with pytest.raises(CompileError, match="does not exist"):
        members(store, {"type": "in_segment", "segment_id": 9}, refs.get)


def test_cycles_are_rejected(duck: EventStore) -> None:
    a = dsl.parse_definition({"type": "in_segment", "segment_id": 2})
    b = dsl.parse_definition({"op": "and", "conditions": [{"type": "in_segment", "segment_id": 1}]})
    refs = {1: SegmentRef(1, a), 2: SegmentRef(2, b)}
    with pytest.raises(CompileError, match="refers to itself"):
        compile_segment(duck.dialect, CTX, a, today=TODAY, resolve=refs.get, segment_id=1)
    with pytest.raises(CompileError, match="refers to itself"):
        compile_segment(
            duck.dialect, CTX, {"type": "in_segment", "segment_id": 1}, resolve=refs.get
        )


def test_empty_project_gives_no_members(store: EventStore) -> None:
    assert members(store, {"op": "not", "condition": behaviour("buy")}) == set()
    assert members(store, behaviour("buy", "at_most", 3)) == set()


def test_one_scan_for_all_behavioural_conditions(duck: EventStore) -> None:
    three = {
        "op": "and",
        "conditions": [
            behaviour("buy", "at_least", 2),
            behaviour("pv", "at_least", 5, window={"last_days": 30}),
            {"type": "active_days", "at_least": 3, "last_days": 14},
        ],
    }
    sql = compile_segment(duck.dialect, CTX, three, today=TODAY)
    assert sql.count("FROM events") == 1
    assert "UNION" not in sql  # an AND with a "did" needs no list of every person


@pytest.mark.parametrize(
    "dialect", [DuckDBDialect(), ClickHouseDialect()], ids=["duckdb", "clickhouse"]
)
def test_sql_matches_snapshot(dialect: Dialect) -> None:
    """Golden SQL: a change to how segments compile shows up in review."""
    definition = {
        "op": "and",
        "conditions": [
            behaviour(
                "buy", "at_least", 2, filters=[{"key": "plan", "operator": "eq", "value": "pro"}]
            ),
            {"type": "active_days", "at_least": 3, "last_days": 14},
            {
                "op": "not",
                "condition": {
                    "type": "person_property",
                    "key": "city",
                    "operator": "in",
                    "value": ["上海"],
                },
            },
        ],
    }
    sql = compile_segment(dialect, CTX, definition, today=TODAY)
    assert_matches_snapshot(f"segment_three.{dialect.name}.sql", sql)

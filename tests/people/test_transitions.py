"""Layer transitions on both engines: snapshot dates (week start, month, today's limit), a
hand-computed week, new persons apart, and the matrix total = persons in both snapshots."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_store
from tests.factories import ev, load, pid
from yunying.analytics.context import ProjectContext
from yunying.people.layer_settings import LAYERS, ActivitySettings
from yunying.people.layers import layer_table
from yunying.people.transitions import (
    build_result,
    layers_at_snapshot,
    run_transitions,
    snapshot_dates,
)
from yunying.store.base import EventStore

CTX = ProjectContext(project_id=1, timezone="Asia/Shanghai")
LIMIT = date(2024, 12, 31)


def test_snapshot_dates() -> None:
    # 2024-03-28 is a Thursday; Monday weeks: 03-25…03-31; Sunday weeks: 03-24…03-30
    assert snapshot_dates("week", date(2024, 3, 28)) == (date(2024, 3, 24), date(2024, 3, 31))
    assert snapshot_dates("week", date(2024, 3, 28), 7) == (date(2024, 3, 23), date(2024, 3, 30))
    assert snapshot_dates("month", date(2024, 2, 10)) == (date(2024, 1, 31), date(2024, 2, 29))
    # a running period ends at the limit (today)
    assert snapshot_dates("week", date(2024, 3, 26), 1, date(2024, 3, 27)) == (
        date(2024, 3, 24),
        date(2024, 3, 27),
    )
    with pytest.raises(ValueError, match="future"):
        snapshot_dates("week", date(2024, 3, 28), 1, date(2024, 3, 27))


def test_a_hand_computed_week(store: EventStore) -> None:
    load(
        store,
        [
            ev("a", "pv", "2024-03-20 10:00"),  # active on 03-24, back on 03-30: active → active
            ev("a", "pv", "2024-03-30 10:00"),
            ev("b", "pv", "2024-03-22 10:00"),  # active on 03-24, silent on 03-31
            ev("c", "pv", "2024-01-01 10:00"),  # churned on 03-24, recalled on 03-31 …
            ev("anon", "pv", "2024-03-31 23:59"),  # … through a merged id, 23:59 local
            ev("n", "pv", "2024-03-29 10:00"),  # new this week
            ev("z", "pv", "2024-04-01 00:00"),  # next week (16:00 UTC on 03-31): not counted
        ],
        merges={"anon": "c"},
    )
    r = run_transitions(store, CTX, ActivitySettings(), period="week", day=date(2024, 3, 28),
                        limit=LIMIT)  # fmt: skip
    assert (r.from_date, r.to_date) == (date(2024, 3, 24), date(2024, 3, 31))
    assert {(c.source, c.target): c.persons for c in r.cells if c.persons} == {
        ("active", "active"): 1,
        ("active", "silent"): 1,
        ("churned", "recalled"): 1,
    }
    assert r.count("active", "silent") == 1
    assert r.persons == 3 and r.entered["active"] == 1 and sum(r.entered.values()) == 1
    assert r.row_totals["active"] == 2 and r.column_totals["recalled"] == 1
    share = {(c.source, c.target): c.row_share for c in r.cells}
    assert share[("active", "silent")] == 0.5 and share[("churned", "recalled")] == 1.0
    assert share[("core", "core")] == 0.0
    assert r.highlights.went_quiet == 1 and r.highlights.came_back == 1
    assert r.highlights.newly_churned == 0
    assert len(r.cells) == len(LAYERS) ** 2


def test_month_period_and_empty_store(store: EventStore) -> None:
    r = run_transitions(store, CTX, ActivitySettings(), period="month", day=date(2024, 2, 10),
                        limit=LIMIT)  # fmt: skip
    assert (r.from_date, r.to_date) == (date(2024, 1, 31), date(2024, 2, 29))
    assert r.persons == 0 and all(c.row_share == 0.0 for c in r.cells)


def test_build_result_is_tidy() -> None:
    rows = [
        {"source": "active", "target": "silent", "n": 3},
        {"source": None, "target": "active", "n": 2},
        {"source": "churned", "target": "active", "n": 1},
    ]
    r = build_result("week", date(2024, 3, 24), date(2024, 3, 31), rows)
    assert r.persons == 4 and r.entered["active"] == 2
    assert r.highlights.came_back == 1 and r.highlights.went_quiet == 3
    assert r.model_dump(mode="json")["from_date"] == "2024-03-24"


days_sets = st.dictionaries(
    st.sampled_from([f"u{i}" for i in range(10)]),
    st.sets(st.integers(min_value=0, max_value=70), min_size=1, max_size=20),
    max_size=10,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days_sets, st.integers(min_value=0, max_value=70), st.sampled_from(["week", "month"]))
def test_totals_equal_persons_in_both_snapshots(people: dict, offset: int, period: str) -> None:
    start = date(2024, 1, 1)
    store = make_store("duckdb")
    try:
        events = [
            ev(w, "pv", f"{start + timedelta(days=d)} 12:00")
            for w, ds in people.items()
            for d in ds
        ]
        if events:
            load(store, events)
        s = ActivitySettings()
        r = run_transitions(
            store, CTX, s, period=period, day=start + timedelta(days=offset), limit=LIMIT
        )  # type: ignore[arg-type]
        before = {x["pid"]: x["layer"] for x in layer_table(store, CTX, s, r.from_date).to_pylist()}
        after = {x["pid"]: x["layer"] for x in layer_table(store, CTX, s, r.to_date).to_pylist()}
        assert r.persons == len(before) == sum(r.row_totals.values())
        assert sum(r.column_totals.values()) == r.persons
        assert sum(r.entered.values()) == len(set(after) - set(before))
        for a, b in {(before[p], after[p]) for p in before}:
            n = sum(1 for p in before if before[p] == a and after[p] == b)
            assert r.count(a, b) == n
        assert all(pid(w) in after for w in people if min(people[w]) <= (r.to_date - start).days)
        # the page reads the layer distribution off the matrix instead of a second query
        derived = layers_at_snapshot(r)
        assert derived.as_of == r.to_date
        assert {c.key: c.persons for c in derived.layers} == {
            k: sum(1 for v in after.values() if v == k) for k in LAYERS
        }
    finally:
        store.close()

"""Warning-line rules on both engines: hand-computed windows in the project's time zone,
identity merges, event filters, several rules, and the service publishing the result."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy.orm import Session

from tests.factories import ev, load, pid
from yunying.analytics.context import ProjectContext
from yunying.analytics.filters import PropertyFilter
from yunying.db.migrate import upgrade
from yunying.db.projects import create_project
from yunying.db.session import make_engine, make_sessionmaker
from yunying.people.churn_config import count_history, load_config, save_rules
from yunying.people.churn_rules import WarningRule, WarningRules, evaluate_rule, evaluate_rules
from yunying.people.churn_service import evaluate_warning, warned_persons
from yunying.store import derived
from yunying.store.base import EventStore
from yunying.store.duckdb import DuckDBStore

CTX = ProjectContext(project_id=1, timezone="Asia/Shanghai")


@pytest.fixture
def db_session(tmp_path: Path) -> Iterator[Session]:
    """A migrated SQLite operational store holding project 1."""
    url = f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    session = make_sessionmaker(engine)()
    create_project(session, name="p1")
    try:
        yield session
    finally:
        session.close()
        engine.dispose()


AS_OF = date(2024, 3, 31)
# X = 7 quiet days: 03-25 … 03-31; N = 10 lookback days: 03-15 … 03-24; Y = 3
RULE = WarningRule(key="r", name="r", inactive_days=7, lookback_days=10, min_active_days=3)


def days(distinct_id: str, *local: str, event: str = "view", **props: object) -> list:
    return [ev(distinct_id, event, t, **props) for t in local]


def test_window_boundaries_in_the_project_time_zone(store: EventStore) -> None:
    events = [
        # a: active 3 lookback days, the last at 23:59 local on 03-24 (15:59 UTC): over the line
        *days("a", "2024-03-15 00:00", "2024-03-20 12:00", "2024-03-24 23:59"),
        # b: same, but one event at 00:00 local on 03-25 (16:00 UTC on 03-24): in the quiet window
        *days("b", "2024-03-15 10:00", "2024-03-20 12:00", "2024-03-24 10:00", "2024-03-25 00:00"),
        # c: only 2 active days (two events on one day count once)
        *days("c", "2024-03-16 10:00", "2024-03-16 11:00", "2024-03-18 10:00"),
        # d: one of its 3 days is 03-14 23:59 local: before the lookback window
        *days("d", "2024-03-14 23:59", "2024-03-20 12:00", "2024-03-24 10:00"),
        # e: events after the as-of day do not matter
        *days("e", "2024-03-15 10:00", "2024-03-16 10:00", "2024-03-17 10:00", "2024-04-01 00:00"),
    ]
    load(store, events)
    assert evaluate_rule(store, CTX, RULE, AS_OF) == sorted([pid("a"), pid("e")])


def test_merged_identities_pool_their_days(store: EventStore) -> None:
    events = [
        *days("anon", "2024-03-15 10:00", "2024-03-16 10:00"),
        *days("u1", "2024-03-17 10:00"),
        *days("anon2", "2024-03-15 10:00", "2024-03-16 10:00", "2024-03-17 10:00"),
        *days("u2", "2024-03-29 10:00"),  # u2's own recent activity clears anon2's history
    ]
    load(store, events, merges={"anon": "u1", "anon2": "u2"})
    assert evaluate_rule(store, CTX, RULE, AS_OF) == [pid("u1")]


def test_event_list_and_filters_decide_what_counts(store: EventStore) -> None:
    events = [
        *days("a", "2024-03-15 10:00", "2024-03-16 10:00", "2024-03-17 10:00", event="buy"),
        *days("a", "2024-03-30 10:00", event="view"),  # views do not count for the rule
        *days(
            "b", "2024-03-15 10:00", "2024-03-16 10:00", "2024-03-17 10:00", event="buy", plan="pro"
        ),
    ]
    load(store, events)
    buys = RULE.model_copy(update={"events": ["buy"]})
    assert evaluate_rule(store, CTX, buys, AS_OF) == sorted([pid("a"), pid("b")])
    assert evaluate_rule(store, CTX, RULE, AS_OF) == [pid("b")]
    pro = buys.model_copy(update={"filters": [PropertyFilter(key="plan", value="pro")]})
    assert evaluate_rule(store, CTX, pro, AS_OF) == [pid("b")]


def test_first_matching_rule_labels_a_person(store: EventStore) -> None:
    load(
        store,
        [
            *days("a", "2024-03-15 10:00", "2024-03-16 10:00", "2024-03-17 10:00"),
            *days("b", "2024-03-22 10:00", "2024-03-23 10:00"),
        ],
    )
    loose = WarningRule(key="loose", name="l", inactive_days=3, lookback_days=30, min_active_days=1)
    off = WarningRule(key="off", name="o", inactive_days=1, min_active_days=1, enabled=False)
    table, counts = evaluate_rules(store, CTX, WarningRules(rules=[RULE, loose, off]), AS_OF)
    assert counts == {"r": 1, "loose": 2}
    assert dict(
        zip(
            table.column("person_id").to_pylist(),
            table.column("value_str").to_pylist(),
            strict=True,
        )
    ) == {
        pid("a"): "r",
        pid("b"): "loose",
    }


def test_hostile_rule_values_stay_values(store: EventStore) -> None:
    hostile = "x'); DROP TABLE events; --"
    load(
        store, days("a", "2024-03-15 10:00", "2024-03-16 10:00", "2024-03-17 10:00", event=hostile)
    )
    rule = RULE.model_copy(
        update={
            "events": [hostile],
            "filters": [PropertyFilter(key=hostile, operator="is_not_set")],
        }
    )
    assert evaluate_rule(store, CTX, rule, AS_OF) == [pid("a")]
    assert store.query("SELECT count(*) AS n FROM events").column("n")[0].as_py() == 3


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"key": "Bad Key"}, "key"),
        ({"min_active_days": 40}, "min_active_days"),
        ({"inactive_days": 0}, "inactive_days"),
        ({"filters": [{"key": "k", "type": "person"}]}, "filters"),
    ],
)
def test_invalid_rules_name_the_problem(change: dict, field: str) -> None:
    data = {**RULE.model_dump(), **change}
    with pytest.raises(ValidationError) as info:
        WarningRule.model_validate(data)
    text = str(info.value)
    assert field in text or "min_active_days" in text


def test_duplicate_keys_are_rejected() -> None:
    with pytest.raises(ValidationError, match="unique"):
        WarningRules(rules=[RULE, RULE])


def test_service_publishes_and_counts(store: EventStore, db_session: Session) -> None:
    load(store, days("a", "2024-03-15 10:00", "2024-03-16 10:00", "2024-03-17 10:00"))
    assert load_config(db_session, 1).rules.rules[0].key == "default"
    save_rules(db_session, 1, WarningRules(rules=[RULE]))
    result = evaluate_warning(session=db_session, store=store, ctx=CTX, as_of=AS_OF)
    assert (result.total, result.counts) == (1, {"r": 1})
    again = evaluate_warning(session=db_session, store=store, ctx=CTX, as_of=AS_OF)  # idempotent
    assert again.counts == {"r": 1}
    assert count_history(db_session, 1) == [{"as_of": AS_OF, "rule_key": "r", "persons": 1}]
    rows = store.query(derived.values_sql(store.dialect, 1, "churn:warning")).to_pylist()
    assert rows == [{"person_id": pid("a"), "value_num": 1.0, "value_str": "r"}]
    page = warned_persons(store=store, project_id=1, limit=10)
    assert page.total == 1 and page.persons[0].person_id == pid("a")
    assert warned_persons(store=store, project_id=1, rule="other").total == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 40 * 24 - 1)), min_size=1, max_size=60),
    st.integers(1, 10),
    st.integers(1, 20),
    st.integers(1, 5),
)
def test_rule_matches_a_plain_python_reference(
    hits: list[tuple[int, int]], x: int, n: int, y: int
) -> None:
    """Random hourly events over 40 local days: SQL agrees with counting days by hand."""
    y = min(y, n)
    rule = WarningRule(key="r", name="r", inactive_days=x, lookback_days=n, min_active_days=y)
    start = date(2024, 3, 1)
    as_of = date(2024, 4, 5)
    events = []
    days_of: dict[str, set[date]] = {}
    for person, hour in hits:
        day = start + timedelta(days=hour // 24)
        events.append(ev(f"u{person}", "view", f"{day} {hour % 24:02d}:30"))
        days_of.setdefault(f"u{person}", set()).add(day)
    lb_start, lb_end, quiet_start = rule.windows(as_of)
    expected = sorted(
        pid(d)
        for d, days in days_of.items()
        if not any(quiet_start <= day <= as_of for day in days)
        and sum(lb_start <= day <= lb_end for day in days) >= y
    )
    store = DuckDBStore()
    store.ensure_schema()
    try:
        load(store, events)
        assert evaluate_rule(store, CTX, rule, as_of) == expected
    finally:
        store.close()

"""Activity layers on both engines: one hand-computed person per layer (local-day
boundaries, an identity merge), precedence, configurable rules, a Python reference of the
documented rules checked by hypothesis, publishing, and the settings store."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy.orm import Session

from tests.conftest import make_store
from tests.factories import ev, load, pid
from yunying.analytics.context import ProjectContext
from yunying.db.migrate import upgrade
from yunying.db.projects import create_project
from yunying.db.session import make_engine, make_sessionmaker
from yunying.people.layer_settings import LAYERS, ActivitySettings, LayerSettings
from yunying.people.layer_store import get_layer_settings, save_layer_settings
from yunying.people.layers import layer_persons, layer_table, publish_layers, run_layers
from yunying.store import derived
from yunying.store.base import EventStore

CTX = ProjectContext(project_id=1, timezone="Asia/Shanghai")
X = date(2024, 3, 31)  # last 7 days: 03-25…03-31; last 14: 03-18…; last 30: 03-02…03-31


def pv(who: str, *local: str, event: str = "pv") -> list:
    return [ev(who, event, t) for t in local]


def one_of_each(store: EventStore) -> None:
    events = [
        *pv("core", *(f"2024-03-{d:02d} 10:00" for d in range(10, 25))),  # 15 of the last 30
        *pv("act", "2024-03-25 00:10"),  # 00:10 local = 03-24 16:10 UTC: inside the last 7
        *pv("sil", "2024-03-24 23:59"),  # 8th day back: silent
        # 5 active days in the 30 up to 03-17, then 14 quiet days: churn risk
        *pv("risk", *(f"2024-03-{d:02d} 10:00" for d in (1, 2, 3, 4, 17))),
        *pv("sil2", "2024-03-03 10:00", "2024-03-17 10:00"),  # only 2 prior days: silent
        *pv("chd", "2024-03-01 23:59"),  # last 30 start 03-02: churned
        *pv("rec", "2024-01-10 10:00", "2024-03-30 10:00"),  # churned at 03-24, back now
        # recalled through a merged anonymous id
        *pv("m", "2024-01-01 10:00"),
        *pv("anon", "2024-03-29 10:00"),
        *pv("later", "2024-04-01 10:00"),  # first seen after X: no layer
        ev("other", "pv", "2024-03-30 10:00", project_id=2),
    ]
    load(store, [e for e in events if e.project_id == 1], merges={"anon": "m"})
    load(store, [e for e in events if e.project_id == 2], project_id=2)


NAMES = ["core", "act", "sil", "risk", "sil2", "chd", "rec", "m", "later", "anon"]


def layers_by_name(store: EventStore, s: ActivitySettings, as_of: date = X) -> dict[str, str]:
    names = {pid(n): n for n in NAMES}
    return {names[r["pid"]]: r["layer"] for r in layer_table(store, CTX, s, as_of).to_pylist()}


def test_one_person_per_layer(store: EventStore) -> None:
    one_of_each(store)
    assert layers_by_name(store, ActivitySettings()) == {
        "core": "core",
        "act": "active",
        "sil": "silent",
        "risk": "churn_risk",
        "sil2": "silent",
        "chd": "churned",
        "rec": "recalled",
        "m": "recalled",
    }


def test_summary_persons_and_details(store: EventStore) -> None:
    one_of_each(store)
    result = run_layers(store, CTX, ActivitySettings(), X)
    assert result.persons == 8
    assert [c.key for c in result.layers] == list(LAYERS)
    assert {c.key: c.persons for c in result.layers} == {
        "recalled": 2, "core": 1, "active": 1, "churn_risk": 1, "silent": 2, "churned": 1,
    }  # fmt: skip
    page = layer_persons(store, CTX, ActivitySettings(), X, layer="recalled")
    assert page.total == 2
    assert [(p.person_id, p.last_active) for p in page.persons] == [
        (pid("rec"), date(2024, 3, 30)),
        (pid("m"), date(2024, 3, 29)),
    ]
    core = layer_persons(store, CTX, ActivitySettings(), X, layer="core").persons[0]
    assert core.active_days == 15 and core.last_active == date(2024, 3, 24)
    everyone = layer_persons(store, CTX, ActivitySettings(), X, limit=3, offset=6)
    assert everyone.total == 8 and len(everyone.persons) == 2
    empty = layer_persons(store, CTX, ActivitySettings(), X, layer="core", offset=5)
    assert empty.total == 1 and empty.persons == []
    with pytest.raises(ValueError, match="unknown layer"):
        layer_persons(store, CTX, ActivitySettings(), X, layer="core' OR 1=1 --")


def test_precedence_and_custom_rules(store: EventStore) -> None:
    one_of_each(store)
    # core needs only 2 days now: "sil2" (2 days in the last 30) outranks silent
    got = layers_by_name(store, ActivitySettings(core_min_days=2))
    assert got["sil2"] == "core" and got["risk"] == "core"
    # only "buy" makes a person active: nobody did it
    assert layers_by_name(store, ActivitySettings(events=["buy"])) == {}
    # a longer active window turns the silent 8th-day person active
    assert layers_by_name(store, ActivitySettings(active_days=8))["sil"] == "active"
    # as of an earlier date the recalled person was churned
    assert layers_by_name(store, ActivitySettings(), date(2024, 3, 24))["rec"] == "churned"


def test_publish(store: EventStore) -> None:
    one_of_each(store)
    result, run = publish_layers(store, CTX, ActivitySettings(), X)
    assert run.name == "layer:activity" and run.row_count == 8 == result.persons
    rows = store.query(derived.values_sql(store.dialect, 1, "layer:activity")).to_pylist()
    got = {r["person_id"]: (r["value_str"], r["value_num"]) for r in rows}
    assert got[pid("act")] == ("active", 6.0)  # days since last active
    assert got[pid("chd")] == ("churned", 30.0)


def test_settings_validation_names_the_field() -> None:
    with pytest.raises(ValidationError, match="core_min_days"):
        ActivitySettings(core_min_days=40)
    with pytest.raises(ValidationError, match="active_days"):
        ActivitySettings(active_days=30, churned_days=30)
    with pytest.raises(ValidationError, match="risk_inactive_days"):
        ActivitySettings(risk_inactive_days=3)
    with pytest.raises(ValidationError, match="churned_days"):
        ActivitySettings(churned_days=0)
    with pytest.raises(ValidationError, match="bogus"):
        ActivitySettings.model_validate({"bogus": 1})


@pytest.fixture
def db_session(tmp_path: Path) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    session = make_sessionmaker(engine)()
    create_project(session, name="p1")
    create_project(session, name="p2")
    session.commit()
    try:
        yield session
    finally:
        session.close()
        engine.dispose()


def test_settings_store_round_trip(db_session: Session) -> None:
    assert get_layer_settings(db_session, 1) == LayerSettings()
    custom = LayerSettings.model_validate(
        {"activity": {"core_min_days": 10, "events": ["b", "a", "a"]}, "rfm": {"split": "median"}}
    )
    save_layer_settings(db_session, 1, custom)
    db_session.commit()
    got = get_layer_settings(db_session, 1)
    assert got.activity.core_min_days == 10 and got.activity.events == ["a", "b"]
    assert got.rfm.split == "median"
    assert get_layer_settings(db_session, 2) == LayerSettings()  # per project
    save_layer_settings(db_session, 1, LayerSettings())
    assert get_layer_settings(db_session, 1) == LayerSettings()


# ---- a reference of the documented rules, checked on random data -------------------------


def reference_layer(days: set[date], x: date, s: ActivitySettings) -> str | None:
    """The documented rules, literally, on a person's set of active local days."""
    seen = {d for d in days if d <= x}
    if not seen:
        return None

    def active_in(last_n: int, at: date) -> list[date]:
        return [d for d in seen if at - timedelta(days=last_n - 1) <= d <= at]

    last = max(seen)
    prev = x - timedelta(days=s.recall_lookback_days)
    seen_prev = [d for d in seen if d <= prev]
    churned_then = bool(seen_prev) and not active_in(s.churned_days, prev)
    if churned_then and active_in(s.active_days, x):
        return "recalled"
    if len(active_in(s.core_window_days, x)) >= s.core_min_days:
        return "core"
    if active_in(s.active_days, x):
        return "active"
    quiet = not active_in(s.risk_inactive_days, x) and active_in(s.churned_days, x)
    if quiet and len(active_in(s.risk_prior_days, last)) >= s.risk_min_days:
        return "churn_risk"
    if active_in(s.churned_days, x):
        return "silent"
    return "churned"


activity = st.dictionaries(
    st.sampled_from([f"u{i}" for i in range(10)]),
    st.sets(st.integers(min_value=0, max_value=80), min_size=1, max_size=25),
    max_size=10,
)
small_rules = st.builds(
    ActivitySettings,
    core_window_days=st.just(10),
    core_min_days=st.integers(min_value=1, max_value=10),
    active_days=st.integers(min_value=1, max_value=4),
    churned_days=st.integers(min_value=9, max_value=20),
    risk_inactive_days=st.integers(min_value=4, max_value=8),
    risk_prior_days=st.integers(min_value=3, max_value=15),
    risk_min_days=st.integers(min_value=1, max_value=3),
    recall_lookback_days=st.integers(min_value=1, max_value=10),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(activity, small_rules, st.integers(min_value=0, max_value=80))
def test_matches_the_reference_every_person_one_layer(
    people: dict[str, set[int]], s: ActivitySettings, x_offset: int
) -> None:
    start = date(2024, 1, 1)
    x = start + timedelta(days=x_offset)
    store = make_store("duckdb")
    try:
        events = [
            ev(who, "pv", f"{start + timedelta(days=d)} {(d * 7) % 24:02d}:30")
            for who, ds in people.items()
            for d in ds
        ]
        if events:
            load(store, events)
        got = {r["pid"]: r["layer"] for r in layer_table(store, CTX, s, x).to_pylist()}
        want = {}
        for who, ds in people.items():
            layer = reference_layer({start + timedelta(days=d) for d in ds}, x, s)
            if layer is not None:
                want[pid(who)] = layer
        assert got == want
        total = run_layers(store, CTX, s, x)
        assert total.persons == len(want) == sum(c.persons for c in total.layers)
    finally:
        store.close()


def test_engines_agree_on_random_data(both: tuple[EventStore, EventStore]) -> None:
    rnd = random.Random(11)
    start = date(2024, 1, 1)

    def when() -> str:
        day = start + timedelta(days=rnd.randrange(90))
        return f"{day} {rnd.randrange(24):02d}:{rnd.randrange(60):02d}"

    events = [ev(f"u{rnd.randrange(80)}", "pv", when()) for _ in range(1500)]
    merges = {f"u{i}": f"u{i + 40}" for i in range(15)}
    for store in both:
        load(store, events, merges=merges)
    for x in (date(2024, 2, 15), date(2024, 3, 31)):
        duck, ch = (
            sorted(
                (r["pid"], r["layer"], r["last_active"], int(r["active_days"]))
                for r in layer_table(store, CTX, ActivitySettings(), x).to_pylist()
            )
            for store in both
        )
        assert duck == ch and len(duck) > 40


HOSTILE = ["pv'; DROP TABLE events; --", 'x"y', "a`b\\", "\\'", "名字 ☃", "$pageview"]


def test_hostile_event_names_are_only_data(store: EventStore) -> None:
    load(store, [ev("h", name, "2024-03-30 10:00") for name in HOSTILE])
    got = layer_table(store, CTX, ActivitySettings(events=HOSTILE[:5]), X).to_pylist()
    assert [(r["pid"], r["layer"]) for r in got] == [(pid("h"), "active")]
    assert layer_table(store, CTX, ActivitySettings(events=["pv' OR '1'='1"]), X).num_rows == 0
    assert store.query("SELECT count(*) AS n FROM events").column("n")[0].as_py() == 6

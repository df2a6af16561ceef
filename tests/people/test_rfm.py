"""RFM on both engines: hand-computed scores and groups (quantile and threshold scoring,
mean and median split), local-day boundaries, identity merges, ties; a reference model
checked by hypothesis; publishing as derived values."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.conftest import make_store
from tests.factories import ev, load, pid
from yunying.analytics.context import ProjectContext
from yunying.people.layer_settings import GROUP_KEYS, RFM_GROUPS, RfmSettings, group_of
from yunying.people.rfm import publish_rfm, rfm_persons, rfm_table, run_rfm
from yunying.store import derived
from yunying.store.base import EventStore

CTX = ProjectContext(project_id=1, timezone="Asia/Shanghai")
AS_OF = date(2024, 3, 10)


def buy(distinct_id: str, when: str, amount: float, **extra: object) -> object:
    return ev(distinct_id, "purchase", when, **{"$revenue": amount}, **extra)


def five_buyers(store: EventStore) -> None:
    """A: R0 F3 M300 (one purchase as anonymous 'anonA', merged), B: R1 F1 M500 (23:30 local
    the day before), C: R37 F2 M20, D: R69 F1 M1000, E: R0 F1 M5 (00:30 local = the day
    before in UTC). Noise: page views, another project's purchase."""
    events = [
        buy("a", "2024-03-10 10:00", 100),
        buy("a", "2024-03-05 10:00", 100),
        buy("anonA", "2024-03-01 10:00", 100),
        buy("b", "2024-03-09 23:30", 500),
        buy("c", "2024-02-01 10:00", 10),
        buy("c", "2024-02-02 10:00", 10),
        buy("d", "2024-01-01 10:00", 1000),
        buy("e", "2024-03-10 00:30", 5),
        ev("a", "$pageview", "2024-03-10 11:00"),
        ev("f", "$pageview", "2024-03-10 11:00"),
        ev("x", "purchase", "2024-03-10 11:00", project_id=2, **{"$revenue": 9999}),
    ]
    load(store, events, merges={"anonA": "a"})
    load(store, [e for e in events if e.project_id == 2], project_id=2)


def by_name(store: EventStore, s: RfmSettings) -> dict[str, dict]:
    names = {pid(n): n for n in "abcdef"}
    return {names[r["person_id"]]: r for r in rfm_table(store, CTX, s, AS_OF).to_pylist()}


def scores(row: dict) -> tuple[int, int, int]:
    return int(row["r"]), int(row["f"]), int(row["m"])


def test_values_scores_and_groups_quantile_mean(store: EventStore) -> None:
    five_buyers(store)
    got = by_name(store, RfmSettings())
    assert set(got) == set("abcde")  # f never bought: no group
    values = {n: (r["recency"], r["frequency"], r["monetary"]) for n, r in got.items()}
    assert values == {
        "a": (0, 3, 300.0),
        "b": (1, 1, 500.0),
        "c": (37, 2, 20.0),
        "d": (69, 1, 1000.0),
        "e": (0, 1, 5.0),
    }
    # percent rank in fifths: min(5, 1 + floor(5 * worse / (5 - 1)))
    assert {n: scores(r) for n, r in got.items()} == {
        "a": (4, 5, 3),
        "b": (3, 1, 4),
        "c": (2, 4, 2),
        "d": (1, 1, 5),
        "e": (4, 1, 1),
    }
    # means: R 2.8, F 2.4, M 3.0 (a's M = 3 is not above the mean: low)
    assert got["a"]["r_ref"] == pytest.approx(2.8)
    assert {n: r["grp"] for n, r in got.items()} == {
        "a": "general_value",
        "b": "important_develop",
        "c": "general_keep",
        "d": "important_retain",
        "e": "general_develop",
    }


def test_median_split(store: EventStore) -> None:
    five_buyers(store)
    got = by_name(store, RfmSettings(split="median"))
    # medians: R 3, F 1, M 3 — b's R = 3 is not above the median
    assert {n: r["grp"] for n, r in got.items()} == {
        "a": "general_value",
        "b": "important_retain",
        "c": "general_keep",
        "d": "important_retain",
        "e": "general_develop",
    }


def test_threshold_scoring(store: EventStore) -> None:
    five_buyers(store)
    got = by_name(store, RfmSettings(scoring="threshold"))
    # R: <=7 → 5, <=30 → 4, <=90 → 3; F: 1 + reached of [2,3,5,10]; M: of [100,300,1000,3000]
    assert {n: scores(r) for n, r in got.items()} == {
        "a": (5, 3, 3),
        "b": (5, 1, 3),
        "c": (3, 2, 1),
        "d": (3, 1, 4),
        "e": (5, 1, 1),
    }
    assert {n: r["grp"] for n, r in got.items()} == {
        "a": "important_value",
        "b": "important_develop",
        "c": "general_keep",
        "d": "important_retain",
        "e": "general_develop",
    }


def test_window_starts_at_local_midnight(store: EventStore) -> None:
    load(
        store,
        [
            buy("in", "2024-03-01 00:00", 1),  # first local day of a 10-day window
            buy("out", "2024-02-29 23:59", 1),  # 15:59 UTC, the day before
        ],
    )
    got = rfm_table(store, CTX, RfmSettings(window_days=10), AS_OF).to_pylist()
    assert [r["person_id"] for r in got] == [pid("in")]
    assert got[0]["recency"] == 9


def test_other_revenue_property_and_purchase_event(store: EventStore) -> None:
    load(
        store,
        [
            ev("a", "order", "2024-03-10 10:00", amount=12.5),
            ev("a", "order", "2024-03-09 10:00", amount=7.5),
            ev("b", "order", "2024-03-08 10:00"),
        ],
    )
    s = RfmSettings(purchase_event="order", revenue_property="amount")
    got = {r["person_id"]: r for r in rfm_table(store, CTX, s, AS_OF).to_pylist()}
    assert got[pid("a")]["monetary"] == 20.0 and got[pid("a")]["frequency"] == 2
    assert got[pid("b")]["monetary"] == 0.0  # no amount: counts, adds nothing


def test_ties_share_one_score(store: EventStore) -> None:
    # F = 1, 1, 1, 2, 3: the three tied buyers all score 1; 2 → 1 + floor(15/4) = 4; 3 → 5
    events = [buy(f"p{i}", "2024-03-10 10:00", 10) for i in range(3)]
    events += [buy("q", f"2024-03-0{d} 10:00", 10) for d in (1, 2)]
    events += [buy("z", f"2024-03-0{d} 10:00", 10) for d in (1, 2, 3)]
    load(store, events)
    got = {r["person_id"]: r for r in rfm_table(store, CTX, RfmSettings(), AS_OF).to_pylist()}
    assert [got[pid(f"p{i}")]["f"] for i in range(3)] == [1, 1, 1]
    assert got[pid("q")]["f"] == 4 and got[pid("z")]["f"] == 5


def test_summary_and_persons(store: EventStore) -> None:
    five_buyers(store)
    result = run_rfm(store, CTX, RfmSettings(), AS_OF)
    assert result.buyers == 5 and result.revenue == 1825.0
    assert [g.key for g in result.groups] == list(GROUP_KEYS)
    by_key = {g.key: g for g in result.groups}
    assert by_key["important_retain"].persons == 1
    assert by_key["important_retain"].revenue == 1000.0
    assert by_key["important_retain"].pattern == "LLH"
    assert by_key["important_value"].persons == 0
    assert by_key["important_value"].avg_monetary is None
    assert sum(g.share for g in result.groups) == pytest.approx(1.0)

    page = rfm_persons(store, CTX, RfmSettings(), AS_OF, limit=2, offset=0)
    assert page.total == 5
    assert [p.person_id for p in page.persons] == [pid("d"), pid("b")]  # biggest spenders
    later = rfm_persons(store, CTX, RfmSettings(), AS_OF, limit=2, offset=4)
    assert [p.person_id for p in later.persons] == [pid("e")]
    one = rfm_persons(store, CTX, RfmSettings(), AS_OF, group="general_value")
    assert one.total == 1 and one.persons[0].person_id == pid("a")
    none = rfm_persons(store, CTX, RfmSettings(), AS_OF, group="important_value", offset=10)
    assert none.total == 0 and none.persons == []
    with pytest.raises(ValueError, match="unknown RFM group"):
        rfm_persons(store, CTX, RfmSettings(), AS_OF, group="x'; DROP TABLE events; --")


def test_no_buyers(store: EventStore) -> None:
    load(store, [ev("a", "$pageview", "2024-03-10 10:00")])
    result = run_rfm(store, CTX, RfmSettings(), AS_OF)
    assert result.buyers == 0 and all(g.persons == 0 for g in result.groups)
    assert result.reference == {"r": None, "f": None, "m": None}


def test_publish(store: EventStore) -> None:
    five_buyers(store)
    result, runs = publish_rfm(store, CTX, RfmSettings(), AS_OF)
    assert [r.name for r in runs] == ["rfm:group", "rfm:score"]
    assert all(r.row_count == 5 for r in runs)
    groups = store.query(derived.values_sql(store.dialect, 1, "rfm:group")).to_pylist()
    assert {r["person_id"]: r["value_str"] for r in groups}[pid("d")] == "important_retain"
    scores_ = store.query(derived.values_sql(store.dialect, 1, "rfm:score")).to_pylist()
    assert {r["person_id"]: r["value_str"] for r in scores_}[pid("a")] == "453"
    assert result.buyers == 5


def test_settings_validation_names_the_field() -> None:
    with pytest.raises(ValidationError, match="recency_thresholds"):
        RfmSettings(recency_thresholds=[30, 7, 90, 180])
    with pytest.raises(ValidationError, match="monetary_thresholds"):
        RfmSettings(monetary_thresholds=[1, 2, 3])
    with pytest.raises(ValidationError, match="scoring"):
        RfmSettings(scoring="kmeans")  # type: ignore[arg-type]


def test_group_table_matches_the_classic_definition() -> None:
    # 重要价值 HHH, 重要发展 HLH, 重要保持 LHH, 重要挽留 LLH, 一般价值 HHL, 一般发展 HLL,
    # 一般保持 LHL, 一般挽留 LLL (R, F, M high or low)
    expected = {
        "重要价值": (1, 1, 1), "重要发展": (1, 0, 1), "重要保持": (0, 1, 1), "重要挽留": (0, 0, 1),
        "一般价值": (1, 1, 0), "一般发展": (1, 0, 0), "一般保持": (0, 1, 0), "一般挽留": (0, 0, 0),
    }  # fmt: skip
    for key, (pattern, zh) in RFM_GROUPS.items():
        assert tuple(int(x) for x in pattern) == expected[zh]
        assert group_of(*pattern) == key


# ---- a reference model, checked on random data -------------------------------------------


def reference(purchases: list[tuple[str, date, float]], as_of: date, s: RfmSettings) -> dict:
    """Python RFM following the documented definition (quantile scoring, mean split)."""
    first = as_of - timedelta(days=s.window_days - 1)
    per: dict[str, list[tuple[date, float]]] = {}
    for who, day, amount in purchases:
        if first <= day <= as_of:
            per.setdefault(who, []).append((day, amount))
    vals = {
        w: ((as_of - max(d for d, _ in p)).days, len(p), sum(a for _, a in p))
        for w, p in per.items()
    }
    n = len(vals)

    def score(i: int, better: int) -> dict[str, int]:  # better = +1: larger is better
        out = {}
        for w, v in vals.items():
            worse = sum(1 for u in vals.values() if (u[i] - v[i]) * better < 0)
            out[w] = min(5, 1 + (5 * worse) // max(n - 1, 1))
        return out

    r, f, m = score(0, -1), score(1, 1), score(2, 1)
    refs = [sum(x.values()) / n for x in (r, f, m)] if n else [0, 0, 0]
    return {
        w: (r[w], f[w], m[w], group_of(r[w] > refs[0], f[w] > refs[1], m[w] > refs[2]))
        for w in vals
    }


purchase_lists = st.lists(
    st.tuples(
        st.sampled_from([f"u{i}" for i in range(8)]),
        st.integers(min_value=0, max_value=40),  # days before the as-of date
        st.sampled_from([1.0, 6.0, 30.0, 68.0, 128.0]),
    ),
    max_size=30,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(purchase_lists)
def test_matches_the_reference_and_scores_are_monotone(rows: list) -> None:
    s = RfmSettings(window_days=30)
    store = make_store("duckdb")
    try:
        events = [
            buy(w, f"{AS_OF - timedelta(days=back)} 12:00", amount) for w, back, amount in rows
        ]
        if events:
            load(store, events)
        got = {
            r["person_id"]: (int(r["r"]), int(r["f"]), int(r["m"]), r["grp"])
            for r in rfm_table(store, CTX, s, AS_OF).to_pylist()
        }
        want = reference(
            [(pid(w), AS_OF - timedelta(days=back), amount) for w, back, amount in rows], AS_OF, s
        )
        assert got == want  # every buyer exactly once, with one of the eight groups
        assert all(g[3] in GROUP_KEYS for g in got.values())
        table = rfm_table(store, CTX, s, AS_OF).to_pylist()
        for dim, key, sign in (("r", "recency", -1), ("f", "frequency", 1), ("m", "monetary", 1)):
            for x in table:
                for y in table:
                    if (x[key] - y[key]) * sign >= 0:
                        assert x[dim] >= y[dim]
    finally:
        store.close()


def test_engines_agree_on_random_data(both: tuple[EventStore, EventStore]) -> None:
    rnd = random.Random(7)
    events = [
        buy(f"u{rnd.randrange(60)}", f"{AS_OF - timedelta(days=rnd.randrange(90))} "
            f"{rnd.randrange(24):02d}:{rnd.randrange(60):02d}", float(rnd.choice([6, 30, 68])))
        for _ in range(300)
    ]  # fmt: skip
    merges = {f"u{i}": f"u{i + 30}" for i in range(10)}
    for store in both:
        load(store, events, merges=merges)
    for s in (RfmSettings(), RfmSettings(scoring="threshold", split="median")):
        duck, ch = (
            sorted(
                (r["person_id"], int(r["r"]), int(r["f"]), int(r["m"]), r["grp"], r["monetary"])
                for r in rfm_table(store, CTX, s, AS_OF).to_pylist()
            )
            for store in both
        )
        assert duck == ch and len(duck) > 20


def test_hostile_purchase_event_and_property(store: EventStore) -> None:
    name, prop = "buy'); DROP TABLE events; --", "amount`\\'\""
    load(store, [ev("a", name, "2024-03-10 10:00", **{prop: 7})])
    s = RfmSettings(purchase_event=name, revenue_property=prop)
    got = rfm_table(store, CTX, s, AS_OF).to_pylist()
    assert [(r["person_id"], r["monetary"]) for r in got] == [(pid("a"), 7.0)]
    assert rfm_table(store, CTX, RfmSettings(purchase_event="x' OR 1=1 --"), AS_OF).num_rows == 0

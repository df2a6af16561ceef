"""Paths on hand-computed cases (both engines) and a cross-engine random check."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_store
from tests.factories import at, ev, load
from yunying.analytics.context import ProjectContext
from yunying.analytics.paths import PathsQuery, run_paths

CTX = ProjectContext(project_id=1)
RANGE = {"date_from": "2024-01-01", "date_to": "2024-01-07"}


def pq(**kw) -> PathsQuery:
    kw.setdefault("start_event", {"event": "home"})
    kw.setdefault("date_range", RANGE)
    kw.setdefault("steps", 3)
    return PathsQuery(**kw)


def nodes(r) -> set[tuple[int, str, int, int, int]]:
    return {(n.step, n.event, n.persons, n.events, n.dropoff) for n in r.nodes}


def links(r) -> set[tuple[int, str, int, str, int, int]]:
    return {
        (lk.source_step, lk.source_event, lk.target_step, lk.target_event, lk.persons, lk.events)
        for lk in r.links
    }


SHOP = [
    # a: home, list ×2, item, buy — all within minutes
    ev("a", "home", "2024-01-01 10:00"),
    ev("a", "list", "2024-01-01 10:01"),
    ev("a", "list", "2024-01-01 10:02"),
    ev("a", "item", "2024-01-01 10:03"),
    ev("a", "buy", "2024-01-01 10:04"),
    # b: home, item, then buy after a 2 h gap (a new session)
    ev("b", "home", "2024-01-01 11:00"),
    ev("b", "item", "2024-01-01 11:05"),
    ev("b", "buy", "2024-01-01 13:05"),
    # c: list before home; anchor is c's first home, a second home comes later
    ev("c", "list", "2024-01-01 09:00"),
    ev("c", "home", "2024-01-01 09:10"),
    ev("c", "list", "2024-01-01 09:20"),
    ev("c", "home", "2024-01-01 09:25"),
    # d: no home at all
    ev("d", "list", "2024-01-01 09:00"),
]


def test_after_with_collapse_and_dropoff(store):
    load(store, SHOP)
    r = run_paths(store, CTX, pq())
    assert r.persons == 3
    assert nodes(r) == {
        (0, "home", 3, 3, 0),
        (1, "list", 2, 3, 0),  # a's two lists are one step; c: list
        (1, "item", 1, 1, 1),  # b: the 2 h gap ends the path
        (2, "item", 1, 1, 0),
        (2, "home", 1, 1, 1),  # c's second home is an ordinary event
        (3, "buy", 1, 1, 1),  # a ends; look-ahead shows nothing follows
    }
    assert links(r) == {
        (0, "home", 1, "list", 2, 3),
        (0, "home", 1, "item", 1, 1),
        (1, "list", 2, "item", 1, 1),
        (1, "list", 2, "home", 1, 1),
        (2, "item", 3, "buy", 1, 1),
    }
    assert [(d.step, d.persons, d.continued, d.dropoff) for d in r.dropoff] == [
        (0, 3, 3, 0),
        (1, 3, 2, 1),
        (2, 2, 1, 1),
        (3, 1, 0, 1),
    ]


def test_without_collapse_repeats_are_steps(store):
    load(store, SHOP)
    r = run_paths(store, CTX, pq(collapse_repeats=False, steps=2))
    assert {(n.step, n.event, n.persons) for n in r.nodes} == {
        (0, "home", 3),
        (1, "list", 2),
        (1, "item", 1),
        (2, "list", 1),
        (2, "home", 1),
    }
    assert (1, "list", 2, "list", 1, 1) in links(r)


def test_collapse_merges_repeats_of_the_anchor(store):
    load(
        store,
        [
            ev("a", "home", "2024-01-01 10:00"),
            ev("a", "home", "2024-01-01 10:01"),
            ev("a", "home", "2024-01-01 10:02"),
            ev("a", "list", "2024-01-01 10:03"),
        ],
    )
    r = run_paths(store, CTX, pq())
    assert nodes(r) == {(0, "home", 1, 3, 0), (1, "list", 1, 1, 1)}


def test_before_leads_to_the_anchor(store):
    load(store, SHOP)
    r = run_paths(store, CTX, pq(start_event={"event": "buy"}, direction="before"))
    assert r.persons == 2
    assert nodes(r) == {
        (0, "buy", 2, 2, 1),  # b: 2 h before buy there is nothing in the session
        (-1, "item", 1, 1, 0),
        (-2, "list", 1, 2, 0),
        (-3, "home", 1, 1, 1),
    }
    assert links(r) == {
        (-1, "item", 0, "buy", 1, 1),
        (-2, "list", -1, "item", 1, 2),
        (-3, "home", -2, "list", 1, 1),
    }
    assert [(d.step, d.dropoff) for d in r.dropoff] == [(0, 1), (-1, 0), (-2, 0), (-3, 1)]


def test_no_session_gap(store):
    load(store, SHOP)
    r = run_paths(store, CTX, pq(session_gap_minutes=None))
    assert (2, "buy", 1, 1, 1) in nodes(r)  # b now reaches buy after the 2 h gap
    tight = run_paths(store, CTX, pq(session_gap_minutes=1))
    assert nodes(tight) == {
        (0, "home", 3, 3, 2),
        (1, "list", 1, 2, 0),
        (2, "item", 1, 1, 0),
        (3, "buy", 1, 1, 1),
    }


def test_include_and_exclude(store):
    load(store, SHOP)
    r = run_paths(store, CTX, pq(exclude_events=["list"]))
    # Without c's list between them, c's two homes are consecutive and collapse.
    assert nodes(r) == {
        (0, "home", 3, 4, 1),
        (1, "item", 2, 2, 1),
        (2, "buy", 1, 1, 1),
    }
    only = run_paths(store, CTX, pq(include_events=["buy"], session_gap_minutes=None))
    assert {(n.step, n.event, n.persons) for n in only.nodes} == {(0, "home", 3), (1, "buy", 2)}


def _walk(person: str, start: datetime, names: list[str], minutes: list[float]) -> list:
    """Events ``names`` for ``person``, each ``minutes[i]`` after the previous one."""
    out, when = [], start
    for name, gap in zip(names, [0.0, *minutes], strict=True):
        when += timedelta(minutes=gap)
        out.append(ev(person, name, when))
    return out


def test_a_session_longer_than_many_gaps_is_followed_to_its_end(store):
    """The path keeps going while every gap is at most the session gap, however long the
    session (here 2.5 h of 25-minute steps), and ends at the first longer gap, in both
    directions; a gap of exactly the session gap is not a break."""
    t0 = at("2024-01-02 10:00")
    names = ["home", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "late"]
    load(store, _walk("a", t0, names, [25, 25, 25, 25, 25, 30, 25, 31]))
    # before the anchor: b walks into home; 40 min before that, an unrelated visit
    load(store, _walk("b", t0, ["old", "p2", "p1", "home"], [40, 30, 29]))
    after = run_paths(store, CTX, pq(steps=10))
    a_path = sorted((n.step, n.event) for n in after.nodes if n.event != "home" or n.step == 0)
    assert a_path == [(0, "home"), *((k, f"s{k}") for k in range(1, 8))]
    assert (7, "s7", 1, 1, 1) in nodes(after)  # the 31-minute gap ends it
    before = run_paths(store, CTX, pq(direction="before", steps=10))
    assert {(n.step, n.event) for n in before.nodes} == {(0, "home"), (-1, "p1"), (-2, "p2")}
    wide = run_paths(store, CTX, pq(steps=10, session_gap_minutes=31))
    assert (8, "late") in {(n.step, n.event) for n in wide.nodes}


def test_anchor_is_first_occurrence_in_range_and_after_merge(store):
    load(
        store,
        [
            ev("anon", "home", "2023-12-31 10:00"),  # before the range
            ev("anon", "home", "2024-01-02 10:00"),
            ev("user", "signup", "2024-01-02 10:05"),
            ev("user", "home", "2024-01-03 10:00"),
            ev("user", "buy", "2024-01-03 10:01"),
        ],
        merges={"anon": "user"},
    )
    r = run_paths(store, CTX, pq())
    assert nodes(r) == {(0, "home", 1, 1, 0), (1, "signup", 1, 1, 1)}


def test_empty(store):
    r = run_paths(store, CTX, pq())
    assert (r.persons, r.nodes, r.links, r.dropoff) == (0, [], [], [])


def test_engines_agree_on_random_data(both):
    duck, ch = both
    rnd = random.Random(11)
    base = datetime(2024, 1, 1)
    events, used = [], set()
    while len(events) < 300:
        second = rnd.randrange(0, 3 * 86400)
        if second in used:
            continue
        used.add(second)
        when = (base + timedelta(seconds=second)).strftime("%Y-%m-%d %H:%M:%S")
        name = rnd.choice(["home", "list", "list", "item", "buy", "share"])
        events.append(ev(f"u{rnd.randrange(15)}", name, when))
    for s in (duck, ch):
        load(s, events, merges={"u1": "u2", "u3": "u4"})
    variants = [
        pq(direction=d, collapse_repeats=c, session_gap_minutes=g, steps=5)
        for d in ("after", "before")
        for c in (True, False)
        for g in (30, None)
    ]
    variants.append(pq(exclude_events=["list"], include_events=["home", "buy", "item"]))
    for v in variants:
        a, b = run_paths(duck, CTX, v), run_paths(ch, CTX, v)
        assert a == b, v
        assert a.persons > 0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from(["home", "x", "y"]),
            st.integers(0, 600),
        ),
        max_size=20,
    ),
    direction=st.sampled_from(["after", "before"]),
)
def test_flow_is_conserved(data, direction):
    """Persons at a node = persons leaving it + its drop-off; steps only shrink."""
    start = at("2024-01-01 10:00")
    store = make_store("duckdb")
    try:
        load(store, [ev(p, name, start + timedelta(minutes=m)) for p, name, m in data])
        r = run_paths(store, CTX, pq(direction=direction, steps=4))
    finally:
        store.close()
    for n in r.nodes:
        # Links are stored in time order: "before" paths leave a node through its targets.
        key = (n.step, n.event)
        if direction == "after":
            leaving = sum(lk.persons for lk in r.links if (lk.source_step, lk.source_event) == key)
        else:
            leaving = sum(lk.persons for lk in r.links if (lk.target_step, lk.target_event) == key)
        assert n.persons == leaving + n.dropoff or abs(n.step) == 4
    counts = [d.persons for d in r.dropoff]
    assert counts == sorted(counts, reverse=True)
    assert r.persons == len({p for p, name, _ in data if name == "home"})

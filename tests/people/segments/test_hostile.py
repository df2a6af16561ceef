"""Hostile keys, values and names reach SQL only as quoted literals: nothing escapes, and
the answers stay right on both engines."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pytest

from tests.factories import ev, load, pid
from yunying.analytics.context import ProjectContext
from yunying.people.segments.compile import compile_segment
from yunying.store import derived
from yunying.store.base import EventStore

CTX = ProjectContext(project_id=1)
TODAY = date(2024, 1, 10)

HOSTILE = [
    "it's",
    'say "hi"',
    "a;b",
    "'; DROP TABLE events; --",
    "x') OR 1=1 --",
    "back\\slash",
    "trailing\\",
    "\\'",
    "SELECT * FROM persons",
    "百分之%百",
    "under_score",
    "%",
    "_",
    "名字 🎉",
    "$.a.b",
    "/a~b",
    "`tick`",
    "line\nbreak",
]


def members(store: EventStore, definition: Any) -> set[str]:
    derived.ensure_tables(store)
    sql = compile_segment(store.dialect, CTX, definition, today=TODAY)
    return {r["person_id"] for r in store.query(sql + store.dialect.settings_suffix()).to_pylist()}


@pytest.fixture
def hostile(store: EventStore) -> EventStore:
    events = []
    props = {}
    for i, text in enumerate(HOSTILE):
        events.append(ev(f"u{i}", text, "2024-01-08 10:00", **{text: text, "k": text}))
        props[f"u{i}"] = {text: text, "k": text}
    events.append(ev("plain", "pv", "2024-01-08 10:00", k="plain"))
    load(store, events, person_props=props)
    return store


@pytest.mark.parametrize("i", range(len(HOSTILE)))
def test_hostile_keys_and_values_match_exactly(hostile: EventStore, i: int) -> None:
    text = HOSTILE[i]
    me = {pid(f"u{i}")}
    pp = {"type": "person_property", "key": text, "operator": "eq", "value": text}
    assert members(hostile, pp) == me
    assert members(hostile, {**pp, "operator": "in", "value": [text, "zzz"]}) == me
    assert members(hostile, {**pp, "operator": "is_set", "value": None}) == me
    event = {"type": "behaviour", "event": text, "window": {"last_days": 7}}
    assert members(hostile, event) == me
    filtered = {
        "type": "event_property",
        "key": text,
        "operator": "eq",
        "value": text,
        "window": {"last_days": 7},
    }
    assert members(hostile, filtered) == me


@pytest.mark.parametrize("needle", ["%", "_", "\\", "'", "%百", "a;b"])
def test_contains_is_literal(hostile: EventStore, needle: str) -> None:
    """``%`` and ``_`` are not wildcards, backslashes and quotes are plain characters."""
    expected = {pid(f"u{i}") for i, text in enumerate(HOSTILE) if needle in text}
    pp = {"type": "person_property", "key": "k", "operator": "contains", "value": needle}
    assert members(hostile, pp) == expected
    everyone = {pid(f"u{i}") for i in range(len(HOSTILE))} | {pid("plain")}
    assert members(hostile, {**pp, "operator": "not_contains"}) == everyone - expected


def test_hostile_layer_and_score_names(store: EventStore) -> None:
    load(store, [ev("u1", "pv", "2024-01-08 10:00"), ev("u2", "pv", "2024-01-08 10:00")])
    derived.ensure_tables(store)
    name = "x'; DROP TABLE person_values; --\\"
    derived.write_values(
        store, 1, f"layer:{name}", pa.table({"person_id": [pid("u1")], "value_str": [name]})
    )
    derived.write_values(
        store, 1, f"score:{name}", pa.table({"person_id": [pid("u2")], "value_num": [1.0]})
    )
    assert members(store, {"type": "layer", "scheme": name, "values": [name]}) == {pid("u1")}
    score = {"type": "score", "name": name, "operator": "gt", "value": 0.5}
    assert members(store, score) == {pid("u2")}
    assert store.query("SELECT count(*) AS n FROM events").to_pylist()[0]["n"] == 2


def test_tables_survive(hostile: EventStore) -> None:
    for text in HOSTILE:
        members(
            hostile, {"type": "person_property", "key": text, "operator": "regex", "value": "a"}
        )
    assert hostile.query("SELECT count(*) AS n FROM events").to_pylist()[0]["n"] == len(HOSTILE) + 1

"""``yunying layers``: rfm, activity, transitions, settings and compute in every format,
and user errors that name the flag or field without a traceback."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.factories import ev, load, pid
from yunying.config import Settings
from yunying.store import derived
from yunying.store.base import open_event_store

AS_OF = ("--as-of", "2024-03-31")


@pytest.fixture
def with_events(ready: Cli) -> Cli:
    store = open_event_store(Settings(data_dir=ready.data_dir))
    try:
        load(
            store,
            [
                ev("buyer", "purchase", "2024-03-30 10:00", **{"$revenue": 100}),
                ev("small", "purchase", "2024-01-05 10:00", **{"$revenue": 5}),
                ev("anon", "pv", "2024-03-29 10:00"),
                ev("fan", "pv", "2024-03-25 10:00"),
                ev("gone", "pv", "2024-01-01 10:00"),
            ],
            merges={"anon": "small"},
        )
    finally:
        store.close()
    return ready


def test_rfm_in_every_format(with_events: Cli) -> None:
    data = with_events.json("layers", "rfm", *AS_OF, "--format", "json")
    assert data["buyers"] == 2 and len(data["groups"]) == 8
    table = with_events.ok("layers", "rfm", *AS_OF).stdout
    assert "important_value" in table and "重要价值" in table and "2 buyers" in table
    rows = list(
        csv.reader(io.StringIO(with_events.ok("layers", "rfm", *AS_OF, "-f", "csv").stdout))
    )
    assert rows[0][0] == "group" and len(rows) == 9
    page = with_events.json("layers", "rfm", *AS_OF, "--persons", "all", "-f", "json")
    assert page["total"] == 2 and page["persons"][0]["person_id"] == pid("buyer")
    out = with_events.ok("layers", "rfm", *AS_OF, "--persons", "important_value").stdout
    assert "persons; showing" in out


def test_activity_and_persons(with_events: Cli) -> None:
    data = with_events.json("layers", "activity", *AS_OF, "-f", "json")
    assert {c["key"]: c["persons"] for c in data["layers"]}["recalled"] == 1
    assert data["persons"] == 4
    out = with_events.ok("layers", "activity", *AS_OF).stdout
    assert "已召回" in out and "4 persons" in out
    page = with_events.json("layers", "activity", *AS_OF, "--persons", "recalled", "-f", "json")
    assert [p["person_id"] for p in page["persons"]] == [pid("small")]
    out = with_events.ok("layers", "activity", *AS_OF, "--persons", "all", "-f", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 4 and set(rows[0]) == {"person_id", "layer", "last_active", "active_days"}


def test_transitions(with_events: Cli) -> None:
    data = with_events.json("layers", "transitions", "--date", "2024-03-28", "-f", "json")
    assert data["from_date"] == "2024-03-24" and data["highlights"]["came_back"] == 1
    table = with_events.ok("layers", "transitions", "--date", "2024-03-28").stdout
    assert "came back 1" in table and "churn_risk" in table
    rows = list(csv.reader(io.StringIO(
        with_events.ok("layers", "transitions", "--period", "month", "--date", "2024-03-28",
                       "-f", "csv").stdout)))  # fmt: skip
    assert rows[0] == ["from", "to", "persons", "row_share"] and len(rows) == 1 + 36 + 6


def test_settings_and_compute(with_events: Cli, tmp_path: Path) -> None:
    shown = with_events.json("layers", "settings", "-f", "json")
    assert shown["activity"]["active_days"] == 7
    doc = tmp_path / "layers.json"
    doc.write_text(json.dumps({"activity": {"active_days": 3}, "rfm": {"split": "median"}}))
    changed = with_events.json("layers", "settings", "--set", f"@{doc}", "-f", "json")
    assert changed["activity"]["active_days"] == 3 and changed["rfm"]["split"] == "median"
    assert "activity.active_days" in with_events.ok("layers", "settings").stdout
    # a partial document changes only what it names
    again = with_events.json(
        "layers", "settings", "--set", '{"rfm": {"window_days": 90}}', "-f", "json"
    )
    assert again["rfm"]["window_days"] == 90 and again["rfm"]["split"] == "median"
    assert again["activity"]["active_days"] == 3
    # with active = the last 3 days, "fan" (03-25) is silent now
    page = with_events.json("layers", "activity", *AS_OF, "--persons", "silent", "-f", "json")
    assert [p["person_id"] for p in page["persons"]] == [pid("fan")]

    report = with_events.json("layers", "compute", *AS_OF, "-f", "json")
    assert {r["name"] for r in report["runs"]} == {"rfm:group", "rfm:score", "layer:activity"}
    assert "layer:activity" in with_events.ok("layers", "compute", *AS_OF).stdout
    store = open_event_store(Settings(data_dir=with_events.data_dir))
    try:
        assert derived.latest_run(store, 1, "layer:activity").row_count == 4  # type: ignore[union-attr]
    finally:
        store.close()


def test_user_errors(with_events: Cli) -> None:
    with_events.user_error("layers", "rfm", "--as-of", "soon", match="--as-of")
    with_events.user_error("layers", "rfm", "--persons", "vips", match="--persons: unknown group")
    with_events.user_error("layers", "activity", "--persons", "x", match="--persons: unknown layer")
    with_events.user_error("layers", "transitions", "--period", "year", match="--period")
    with_events.user_error("layers", "transitions", "--date", "2999-01-01", match="--date")
    with_events.user_error("layers", "settings", "--set", '{"activity": {"active_days": 0}}',
                           match="activity.active_days")  # fmt: skip
    with_events.user_error("layers", "settings", "--set", "{nope", match="--set|--spec")
    with_events.user_error("layers", "rfm", "--project", "nope", match="nope")

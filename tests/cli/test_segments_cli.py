"""``yunying segments``: create from a file, preview, refresh, export, import, history,
and errors that name the field without a traceback."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.factories import ev, load, pid
from yunying.config import Settings
from yunying.store.base import open_event_store

BUYERS = {"type": "behaviour", "event": "buy", "window": {"last_days": 7}}


@pytest.fixture
def with_events(ready: Cli) -> Cli:
    store = open_event_store(Settings(data_dir=ready.data_dir))
    yesterday = datetime.now(UTC) - timedelta(days=1)
    try:
        load(
            store,
            [ev("b1", "buy", yesterday), ev("b2", "buy", yesterday), ev("o1", "pv", yesterday)],
        )
    finally:
        store.close()
    return ready


def test_round_trip(with_events: Cli, tmp_path: Path) -> None:
    cli = with_events
    dsl = tmp_path / "dsl.json"
    dsl.write_text(json.dumps(BUYERS))
    assert cli.json("segments", "preview", "--file", str(dsl), "--format", "json")["count"] == 2
    created = cli.json("segments", "create", "--name", "Buyers", "--file", str(dsl), "-f", "json")
    seg = created[0]["id"]
    refreshed = cli.json("segments", "refresh", str(seg), "--format", "json")
    assert refreshed[0]["members"] == 2 and refreshed[0]["entered"] == 2
    listed = cli.json("segments", "list", "--format", "json")
    assert listed[0]["last_count"] == 2
    out = tmp_path / "members.csv"
    result = cli.ok("segments", "export", str(seg), "--out", str(out))
    assert "Wrote 2 members" in result.stdout
    rows = list(csv.DictReader(out.open()))
    assert {r["distinct_ids"] for r in rows} == {"b1", "b2"}
    history = cli.json("segments", "history", str(seg), "--format", "json")
    assert [h["entered"] for h in history] == [2]
    assert cli.json("segments", "refresh", "--format", "json")[0]["entered"] == 0  # all, again
    cli.ok("segments", "delete", str(seg))
    assert cli.json("segments", "list", "--format", "json") == []


def test_static_import(with_events: Cli, tmp_path: Path) -> None:
    cli = with_events
    seg = cli.json("segments", "create", "--name", "VIP", "--static", "-f", "json")[0]["id"]
    ids = tmp_path / "ids.csv"
    ids.write_text("distinct_id\no1\nghost\n")
    got = cli.json("segments", "import-csv", str(seg), str(ids), "--format", "json")
    assert got["matched"] == 1 and got["unknown"] == ["ghost"]
    out = tmp_path / "out.csv"
    cli.ok("segments", "export", str(seg), "--out", str(out))
    assert pid("o1") in out.read_text()


def test_errors(with_events: Cli, tmp_path: Path) -> None:
    cli = with_events
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "op": "or",
                "conditions": [{"type": "behaviour", "event": "x", "count": {"value": -2}}],
            }
        )
    )
    cli.user_error(
        "segments", "preview", "--file", str(bad), match=r"definition\.conditions\.0\.count\.value"
    )
    cli.user_error("segments", "create", "--name", "x", "--file", str(bad), match="count.value")
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    cli.user_error("segments", "preview", "--file", str(broken), match="invalid JSON")
    cli.user_error("segments", "create", "--name", "x", match="definition is needed")
    cli.user_error("segments", "refresh", "999", match="segment 999 not found")
    cli.user_error("segments", "import-csv", "1", str(tmp_path / "none.csv"), match="no such file")

"""``yunying query``: every registered metric, the common flags, output formats, errors."""

from __future__ import annotations

import csv
import io
import json
import typing
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.cli.query_specs import MINIMAL_SPECS, sample_events, spec_for
from yunying.analytics.registry import load_metric, metric_kinds
from yunying.config import Settings
from yunying.events.pipeline import write_events
from yunying.store.base import open_event_store


def installed_kinds() -> list[str]:
    out = []
    for kind in metric_kinds():
        try:
            load_metric(kind)
        except ModuleNotFoundError:
            continue
        out.append(kind)
    return out


@pytest.fixture
def with_events(ready: Cli) -> Cli:
    store = open_event_store(Settings(data_dir=ready.data_dir))
    try:
        write_events(store, sample_events())
    finally:
        store.close()
    return ready


def test_every_kind_has_a_spec() -> None:
    assert set(metric_kinds()) <= set(MINIMAL_SPECS)


@pytest.mark.parametrize("kind", installed_kinds())
def test_every_metric_runs_in_every_format(with_events: Cli, kind: str, tmp_path: Path) -> None:
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec_for(kind)))
    data = with_events.json("query", kind, "--spec", f"@{spec_file}", "--format", "json")
    _, run = load_metric(kind)
    typing.get_type_hints(run)["return"].model_validate(data)  # the metric's typed result
    with_events.ok("query", kind, "--spec", f"@{spec_file}")  # table
    rows = list(csv.reader(io.StringIO(with_events.ok("query", kind, "--spec", f"@{spec_file}",
                                                      "-f", "csv").stdout)))  # fmt: skip
    assert rows and rows[0]


def test_common_flags_fill_the_spec(with_events: Cli) -> None:
    data = with_events.json(
        "query", "trends", "-e", "pageview", "-e", "signup", "--from", "2024-01-01",
        "--to", "2024-01-14", "--interval", "week", "-f", "json",
    )  # fmt: skip
    assert data["interval"] == "week"
    assert [s["event"] for s in data["series"]] == ["pageview", "signup"]
    assert [str(p) for p in data["series"][0]["periods"]] == ["2024-01-01", "2024-01-08"]
    total = sum(len(range(1, 12, 2 + i % 2)) for i in range(4))
    assert sum(data["series"][0]["values"]) == total
    assert sum(data["series"][1]["values"]) == 2

    table = with_events.ok("query", "trends", "-e", "pageview", "--from", "2024-01-01",
                           "--to", "2024-01-03").stdout  # fmt: skip
    assert "2024-01-02" in table and "pageview" in table

    if "retention" in installed_kinds():
        ret = with_events.json(
            "query", "retention", "-e", "pageview", "-e", "signup", "--interval", "week",
            "--from", "2024-01-01", "--to", "2024-01-14", "-f", "json",
        )  # fmt: skip
        assert ret["period"] == "week"


def test_query_errors_name_the_field(with_events: Cli) -> None:
    with_events.user_error("query", "trends", match=r"series: Field required")
    with_events.user_error(
        "query", "trends", "--spec", '{"series": [{}]}', match=r"series\.0\.event: Field required"
    )
    with_events.user_error("query", "trends", "--spec", "{nope", match="--spec: invalid JSON")
    with_events.user_error("query", "trends", "--spec", "@missing.json", match="no such file")
    with_events.user_error("query", "bogus", match="unknown metric 'bogus'")
    with_events.user_error("query", "trends", "-e", "x", "--from", "May", match="--from")
    with_events.user_error(
        "query", "trends", "-e", "x", "--from", "2024-02-01", "--to", "2024-01-01",
        match="date_from must not be after date_to",
    )  # fmt: skip
    with_events.user_error(
        "query", "trends", "--spec",
        '{"series": [{"event": "x", "filters": [{"key": "a", "operator": "gt", "value": "z"}]}]}',
        match="needs a number",
    )  # fmt: skip
    with_events.user_error(
        "query", "trends", "--spec", '{"kind": "funnel", "series": [{"event": "x"}]}',
        match="does not match",
    )  # fmt: skip
    if "aarrr" in installed_kinds():
        with_events.user_error("query", "aarrr", "-e", "x", match="--event: does not apply")
    with_events.user_error("query", "trends", "-e", "x", "-p", "42", match="no project with id 42")

"""``yunying churn``: rules, evaluate, warnings, train, score, bgnbd in every format, and
user errors as one line without a traceback."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.factories import load
from tests.people.test_churn_model import TODAY, synthetic
from yunying.config import Settings
from yunying.store.base import open_event_store


@pytest.fixture
def with_events(ready: Cli) -> Cli:
    store = open_event_store(Settings(data_dir=ready.data_dir))
    try:
        load(store, synthetic(300, seed=5))
    finally:
        store.close()
    return ready


RULES = {
    "rules": [
        {
            "key": "quiet",
            "name": "Quiet",
            "inactive_days": 5,
            "lookback_days": 30,
            "min_active_days": 3,
        }
    ]
}


def test_rules_show_and_replace(with_events: Cli, tmp_path: Path) -> None:
    assert with_events.json("churn", "rules", "--format", "json")["rules"][0]["key"] == "default"
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(RULES))
    table = with_events.ok("churn", "rules", "--set", f"@{path}").stdout
    assert "quiet" in table and "Quiet" in table
    out = with_events.ok("churn", "rules", "--format", "csv").stdout
    assert next(csv.DictReader(io.StringIO(out)))["key"] == "quiet"
    bad = json.dumps({"rules": [{**RULES["rules"][0], "min_active_days": 99}]})
    with_events.user_error("churn", "rules", "--set", bad, match="min_active_days")
    with_events.user_error("churn", "rules", "--set", "{oops", match="invalid JSON")


def test_evaluate_and_list(with_events: Cli) -> None:
    with_events.ok("churn", "rules", "--set", json.dumps(RULES))
    result = with_events.json("churn", "evaluate", "--as-of", TODAY.isoformat(), "--format", "json")
    assert result["total"] == result["counts"]["quiet"] > 0
    table = with_events.ok("churn", "evaluate", "--as-of", TODAY.isoformat()).stdout
    assert "quiet" in table
    page = with_events.json("churn", "warnings", "--limit", "3", "--format", "json")
    assert page["total"] == result["total"] and len(page["persons"]) == 3
    with_events.user_error("churn", "evaluate", "--as-of", "tomorrow", match="--as-of")


def test_train_score_bgnbd(with_events: Cli) -> None:
    with_events.user_error("churn", "score", "--as-of", TODAY.isoformat(), match="no churn model")
    metrics = with_events.json("churn", "train", "--today", TODAY.isoformat(), "--format", "json")
    assert 0.5 < metrics["roc_auc"] <= 1
    table = with_events.ok("churn", "train", "--today", TODAY.isoformat()).stdout
    assert "roc_auc" in table and "Top features" in table
    scored = with_events.json("churn", "score", "--as-of", TODAY.isoformat(), "--format", "json")
    assert scored["persons"] > 0


def test_settings_and_bgnbd(with_events: Cli) -> None:
    with_events.user_error("churn", "bgnbd", "--as-of", TODAY.isoformat(), match="no purchases")
    with_events.user_error(
        "churn", "settings", "--set", '{"horizon_days": 0}', match="horizon_days"
    )
    out = with_events.ok(
        "churn", "settings", "--set", '{"purchase_event": "buy"}', "--format", "csv"
    )
    assert "purchase_event,buy" in out.stdout
    fit = with_events.json("churn", "bgnbd", "--as-of", TODAY.isoformat(), "--format", "json")
    assert fit["customers"] > 0 and fit["purchase_event"] == "buy"
    table = with_events.ok("churn", "bgnbd", "--as-of", TODAY.isoformat(), "--no-publish").stdout
    assert "log_likelihood" in table


def test_unknown_project_is_a_user_error(with_events: Cli) -> None:
    with_events.user_error("churn", "evaluate", "--project", "nope", match="nope")

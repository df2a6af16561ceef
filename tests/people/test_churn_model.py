"""Churn features (hand-computed, both engines), the time split, and the classifier on
synthetic data with a planted signal."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.factories import ev, load, pid
from yunying.analytics.context import ProjectContext
from yunying.events.model import Event
from yunying.people import churn_model
from yunying.people.churn_features import compute_features, feature_names, top_event_types
from yunying.store.base import EventStore

CTX = ProjectContext(project_id=1, timezone="Asia/Shanghai")


def test_features_hand_computed(store: EventStore) -> None:
    events = [
        ev("anon", "view", "2024-03-01 00:30", **{"$content_id": "c1"}),
        ev("u1", "view", "2024-03-10 23:59", **{"$content_id": "c1"}),
        ev("u1", "buy", "2024-03-10 10:00", **{"$revenue": 12.5}),
        ev("u1", "view", "2024-03-14 08:00", **{"$content_id": "c2"}),
        ev("u1", "view", "2024-03-15 09:00", **{"$content_id": "c2"}),
        ev("u1", "buy", "2024-03-18 09:00", **{"$revenue": 100}),  # after as-of: label only
        ev("u2", "view", "2024-01-01 09:00"),  # outside the population window
        ev("u3", "view", "2024-03-15 23:30"),
    ]
    load(store, events, merges={"anon": "u1"})
    as_of = date(2024, 3, 15)
    table = compute_features(store, CTX, as_of, ["view", "buy"], horizon_days=7)
    rows = {r["person_id"]: r for r in table.to_pylist()}
    assert set(rows) == {pid("u1"), pid("u3")}
    u1 = rows[pid("u1")]
    assert u1["recency_days"] == 0 and u1["tenure_days"] == 14
    assert (u1["events_total"], u1["events_7d"], u1["events_14d"], u1["events_30d"]) == (5, 4, 4, 5)
    assert (u1["active_days_7d"], u1["active_days_14d"], u1["active_days_30d"]) == (3, 3, 4)
    assert u1["trend_7d"] == 4  # 4 in the last 7 days, none in the 7 before
    assert u1["revenue_total"] == 12.5 and u1["revenue_30d"] == 12.5
    assert u1["distinct_content_30d"] == 2
    assert (u1["events_7d:view"], u1["events_30d:view"], u1["events_7d:buy"]) == (3, 4, 1)
    assert u1["future_events"] == 1
    u3 = rows[pid("u3")]
    assert u3["events_total"] == 1 and u3["future_events"] == 0 and u3["trend_7d"] == 1
    assert top_event_types(store, CTX, as_of) == ["view", "buy"]


def test_features_ignore_everything_after_the_as_of_day(store: EventStore) -> None:
    base = [ev("u1", "view", "2024-03-10 10:00"), ev("u2", "buy", "2024-03-12 10:00")]
    load(store, base)
    before = compute_features(store, CTX, date(2024, 3, 15), ["view", "buy"])
    load(store, [ev("u1", "view", "2024-03-16 00:01"), ev("u2", "view", "2024-04-01 10:00")])
    after = compute_features(store, CTX, date(2024, 3, 15), ["view", "buy"])
    assert before.to_pylist() == after.to_pylist()


def test_event_type_names_stay_out_of_sql_identifiers(store: EventStore) -> None:
    hostile = ['x"; DROP TABLE events; --', "y`) OR 1=1 --", "z\\'"]
    load(store, [ev("u1", name, "2024-03-10 10:00") for name in hostile])
    table = compute_features(store, CTX, date(2024, 3, 15), hostile)
    assert table.column_names == ["person_id", *feature_names(hostile)]
    assert table.to_pylist()[0][f"events_30d:{hostile[0]}"] == 1


@pytest.mark.parametrize("horizon", [1, 7, 14, 30])
def test_time_split_never_leaks(horizon: int) -> None:
    today = date(2024, 6, 30)
    plan = churn_model.plan_split(today, horizon, snapshots=3)
    assert plan.label_end(plan.validation_as_of) < today  # validation labels are complete
    for t0 in plan.train_as_of:
        assert plan.label_end(t0) <= plan.validation_as_of  # ends before validation features
        assert t0 < plan.validation_as_of


# ---- planted signal ----------------------------------------------------------------------

TODAY = date(2024, 6, 1)


def synthetic(n: int, seed: int = 7, *, today: date = TODAY, project_id: int = 1) -> list[Event]:
    """Persons active on random days; a churner's activity fades over three weeks before
    it stops for good (the planted signal: a falling trend predicts churn)."""
    rnd = random.Random(seed)
    start = today - timedelta(days=120)
    out: list[Event] = []
    for i in range(n):
        rate = rnd.uniform(0.25, 0.8)
        stop = rnd.randrange(20, 200)  # day index it stops (>= 120: never within the data)
        for day in range(120):
            if day >= stop:
                break
            fade = min(1.0, (stop - day) / 21)
            if rnd.random() < rate * fade:
                when = start + timedelta(days=day)
                hour = rnd.randrange(8, 22)
                out.append(ev(f"p{i}", "view", f"{when} {hour:02d}:00", project_id=project_id))
                if rnd.random() < 0.3:
                    buy = ev(
                        f"p{i}", "buy", f"{when} 22:30", project_id=project_id, **{"$revenue": 5}
                    )
                    out.append(buy)
    return out


@pytest.fixture(scope="module")
def planted() -> list[Event]:
    return synthetic(700)


def test_classifier_finds_the_planted_signal(
    duck: EventStore, planted: list[Event], tmp_path: Path
) -> None:
    load(duck, planted)
    bundle, report = churn_model.train(duck, CTX, today=TODAY, horizon_days=14)
    assert report.roc_auc > 0.8, report
    assert 0 < report.pr_auc <= 1
    assert set(report.candidates) == {"logistic_regression", "gradient_boosting"}
    assert report.algorithm == max(report.candidates, key=report.candidates.__getitem__)
    assert report.top_features and report.top_features[0].name in report.features
    assert all(churn_model.plan_split(TODAY, 14).label_end(d) <= report.validation_as_of
               for d in report.train_as_of)  # fmt: skip

    churn_model.save_model(tmp_path, 1, bundle)
    loaded = churn_model.load_model(tmp_path, 1)
    scores = churn_model.score(duck, CTX, loaded, as_of=TODAY)
    values = scores.column("value_num").to_numpy()
    assert scores.num_rows > 100 and np.all((values >= 0) & (values <= 1))
    summary = churn_model.summarise_scores(scores, as_of=TODAY, threshold=0.7)
    assert sum(summary.histogram) == scores.num_rows


def test_too_little_data_is_a_clear_error(duck: EventStore) -> None:
    load(duck, [ev("u1", "view", "2024-05-01 10:00")])
    with pytest.raises(churn_model.ChurnModelError, match="not enough"):
        churn_model.train(duck, CTX, today=TODAY)


def test_model_files_are_versioned(tmp_path: Path) -> None:
    with pytest.raises(churn_model.ChurnModelError, match="no churn model"):
        churn_model.load_model(tmp_path, 1)
    path = churn_model.model_path(tmp_path, 1)
    assert path.parent.is_relative_to(tmp_path)
    churn_model.save_model(tmp_path, 1, {"format": 1, "sklearn": "0.0.1", "project_id": 1})
    with pytest.raises(churn_model.ChurnModelError, match="retrain"):
        churn_model.load_model(tmp_path, 1)
    churn_model.save_model(tmp_path, 2, {"format": 99})
    with pytest.raises(churn_model.ChurnModelError, match="unknown format"):
        churn_model.load_model(tmp_path, 2)


def test_daily_job_is_idempotent(tmp_path: Path) -> None:
    from yunying.config import Settings
    from yunying.db.migrate import upgrade
    from yunying.db.projects import create_project
    from yunying.jobs.registry import get_job
    from yunying.jobs.resources import job_session
    from yunying.people.churn_config import count_history
    from yunying.store.base import open_event_store

    settings = Settings(data_dir=tmp_path)
    upgrade(settings.resolved_database_url)
    with job_session(settings) as session:
        create_project(session, name="p")
    store = open_event_store(settings)
    load(store, synthetic(300, seed=2))
    store.close()
    daily = get_job("churn.daily")
    assert daily.schedule == "daily"
    first = daily.function(settings, 1, today=TODAY)  # type: ignore[call-arg]
    assert first["warned"] > 0 and first["scored"] > 0 and first["trained"]["roc_auc"] > 0.5
    assert first["bgnbd_customers"] == "skipped: no purchases before the as-of day: nothing to fit"
    again = daily.function(settings, 1, today=TODAY)  # type: ignore[call-arg]
    assert "trained" not in again  # the week-old rule: no retrain the same day
    assert {k: again[k] for k in ("warned", "scored")} == {
        k: first[k] for k in ("warned", "scored")
    }
    with job_session(settings) as session:
        assert len(count_history(session, 1)) == 1  # the day's counts replaced, not added
    store = open_event_store(settings)
    try:
        from yunying.store import derived

        run = derived.latest_run(store, 1, "score:churn_risk")
        assert run is not None and run.row_count == first["scored"]
        assert len(derived.runs(store, 1, "score:churn_risk", limit=10)) == 2  # pruned to 2
    finally:
        store.close()

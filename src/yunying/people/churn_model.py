"""The behavioural churn classifier: time-split training, model choice, scoring.

Time split (no leakage): the validation as-of day T1 is the latest day whose label window
(T1+1 … T1+H) is complete. Training rows are snapshots as of T0 = T1 - H and weekly
before it, so every training label window ends on or before T1: nothing the validation
labels depend on is seen in training. Both candidates (logistic regression on log-scaled
features, histogram gradient boosting) are trained on the training rows and the one with
the higher validation ROC-AUC is kept; the reported metrics and permutation importances
are that model's on the validation rows. The kept model is then refitted on training and
validation rows together, so scoring uses the freshest behaviour.

The model file lives under the data folder at a path derived from the project id only
(never a path from a request), with a format version and the scikit-learn version: a file
from another version is refused and the model must be retrained.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pyarrow as pa
import sklearn
from pydantic import BaseModel
from sklearn.base import ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from threadpoolctl import threadpool_limits

from yunying.analytics.context import ProjectContext
from yunying.people.churn_features import compute_features, feature_names, matrix, top_event_types
from yunying.store.base import EventStore

MODEL_FORMAT = 1
MIN_ROWS = 40
MIN_CLASS = 5
SCORE_BATCH = 250_000
IMPORTANCE_ROWS = 10_000
# OpenMP threads in scikit-learn's tree code spin-wait: on a 2-core machine shared with the
# event store (and other jobs) one thread was 5x faster than two, so models run on one.
OPENMP_THREADS = 1
MAX_TRAIN_ROWS = 300_000  # a seeded sample beyond this keeps training to about a minute
TOP_FEATURES = 10
HISTOGRAM_BINS = 10


class ChurnModelError(ValueError):
    """Training or scoring cannot proceed (too little data, no model, stale model file)."""


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """log1p that keeps the sign (trend can be negative); module-level so it pickles."""
    return np.sign(x) * np.log1p(np.abs(x))


def candidates() -> dict[str, ClassifierMixin]:
    return {
        "logistic_regression": make_pipeline(
            FunctionTransformer(signed_log1p),
            StandardScaler(),
            LogisticRegression(max_iter=2000),
        ),
        "gradient_boosting": HistGradientBoostingClassifier(
            max_iter=200,
            learning_rate=0.08,
            l2_regularization=1.0,
            early_stopping=True,  # also on small data: stops once held-out loss stalls
            n_iter_no_change=10,
            random_state=0,
        ),
    }


class FeatureImportance(BaseModel):
    name: str
    importance: float


class TrainReport(BaseModel):
    algorithm: str
    roc_auc: float
    pr_auc: float
    candidates: dict[str, float]  # validation ROC-AUC of each candidate
    top_features: list[FeatureImportance]
    train_as_of: list[date]
    validation_as_of: date
    horizon_days: int
    population_days: int
    train_rows: int
    validation_rows: int
    train_churn_rate: float
    validation_churn_rate: float
    features: list[str]
    trained_at: datetime


class ScoreReport(BaseModel):
    as_of: date
    persons: int
    over_threshold: int
    threshold: float
    mean_risk: float
    histogram: list[int]  # HISTOGRAM_BINS equal bins over [0, 1]
    run_id: int | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class SplitPlan:
    train_as_of: list[date]
    validation_as_of: date
    horizon_days: int

    def label_end(self, as_of: date) -> date:
        return as_of + timedelta(days=self.horizon_days)


def plan_split(today: date, horizon_days: int, snapshots: int = 2) -> SplitPlan:
    """T1 = the latest as-of day with a complete label window before ``today``;
    training as-of days T0 = T1 - H, T0 - 7, … (``snapshots`` of them)."""
    t1 = today - timedelta(days=horizon_days + 1)
    t0 = t1 - timedelta(days=horizon_days)
    train = [t0 - timedelta(days=7 * i) for i in range(max(1, snapshots))]
    return SplitPlan(train, t1, horizon_days)


@dataclass
class Dataset:
    x: np.ndarray
    y: np.ndarray  # 1 = churned (no activity in the label window)


def labelled(
    store: EventStore,
    ctx: ProjectContext,
    as_of: date,
    event_types: list[str],
    *,
    horizon_days: int,
    population_days: int,
) -> Dataset:
    table = compute_features(
        store, ctx, as_of, event_types, population_days=population_days, horizon_days=horizon_days
    )
    x = matrix(table, feature_names(event_types))
    future = matrix(table, ["future_events"])[:, 0]
    return Dataset(x, (future == 0).astype(np.int8))


def _sample(ds: Dataset, limit: int = MAX_TRAIN_ROWS) -> Dataset:
    if len(ds.y) <= limit:
        return ds
    keep = np.sort(np.random.default_rng(0).choice(len(ds.y), limit, replace=False))
    return Dataset(ds.x[keep], ds.y[keep])


def _check(ds: Dataset, what: str) -> None:
    positives = int(ds.y.sum())
    if len(ds.y) < MIN_ROWS or positives < MIN_CLASS or len(ds.y) - positives < MIN_CLASS:
        raise ChurnModelError(
            f"not enough {what} data: {len(ds.y)} persons, {positives} churned "
            f"(need {MIN_ROWS} persons and {MIN_CLASS} of each outcome)"
        )


def train(
    store: EventStore,
    ctx: ProjectContext,
    *,
    today: date,
    horizon_days: int = 14,
    population_days: int = 30,
    snapshots: int = 2,
) -> tuple[dict[str, Any], TrainReport]:
    """Train, validate and pick a model; returns (model bundle to save, report)."""
    with threadpool_limits(limits=OPENMP_THREADS, user_api="openmp"):
        return _train(
            store, ctx, today=today, horizon_days=horizon_days,
            population_days=population_days, snapshots=snapshots,
        )  # fmt: skip


def _train(
    store: EventStore,
    ctx: ProjectContext,
    *,
    today: date,
    horizon_days: int = 14,
    population_days: int = 30,
    snapshots: int = 2,
) -> tuple[dict[str, Any], TrainReport]:
    plan = plan_split(today, horizon_days, snapshots)
    event_types = top_event_types(store, ctx, plan.train_as_of[0])
    names = feature_names(event_types)
    parts = [
        labelled(
            store, ctx, d, event_types, horizon_days=horizon_days, population_days=population_days
        )
        for d in plan.train_as_of
    ]
    tr = _sample(Dataset(np.vstack([p.x for p in parts]), np.concatenate([p.y for p in parts])))
    va = labelled(
        store, ctx, plan.validation_as_of, event_types,
        horizon_days=horizon_days, population_days=population_days,
    )  # fmt: skip
    _check(tr, "training")
    _check(va, "validation")
    aucs: dict[str, float] = {}
    fitted: dict[str, ClassifierMixin] = {}
    for name, model in candidates().items():
        model.fit(tr.x, tr.y)
        aucs[name] = float(roc_auc_score(va.y, model.predict_proba(va.x)[:, 1]))
        fitted[name] = model
    best = max(aucs, key=lambda k: (aucs[k], k == "gradient_boosting"))
    chosen = fitted[best]
    proba = chosen.predict_proba(va.x)[:, 1]
    importances = _importances(chosen, va, names)
    both = _sample(Dataset(np.vstack([tr.x, va.x]), np.concatenate([tr.y, va.y])))
    final = clone(chosen).fit(both.x, both.y)
    now = datetime.now(UTC)
    report = TrainReport(
        algorithm=best,
        roc_auc=aucs[best],
        pr_auc=float(average_precision_score(va.y, proba)),
        candidates=aucs,
        top_features=importances,
        train_as_of=plan.train_as_of,
        validation_as_of=plan.validation_as_of,
        horizon_days=horizon_days,
        population_days=population_days,
        train_rows=len(tr.y),
        validation_rows=len(va.y),
        train_churn_rate=float(tr.y.mean()),
        validation_churn_rate=float(va.y.mean()),
        features=names,
        trained_at=now,
    )
    bundle = {
        "format": MODEL_FORMAT,
        "sklearn": sklearn.__version__,
        "project_id": ctx.project_id,
        "model": final,
        "event_types": event_types,
        "features": names,
        "horizon_days": horizon_days,
        "population_days": population_days,
        "algorithm": best,
        "trained_at": now.isoformat(),
    }
    return bundle, report


def _importances(model: ClassifierMixin, va: Dataset, names: list[str]) -> list[FeatureImportance]:
    rng = np.random.default_rng(0)
    idx = np.arange(len(va.y))
    if len(idx) > IMPORTANCE_ROWS:
        idx = np.sort(rng.choice(idx, IMPORTANCE_ROWS, replace=False))
    result = permutation_importance(
        model, va.x[idx], va.y[idx], scoring="roc_auc", n_repeats=3, random_state=0
    )
    order = np.argsort(-result.importances_mean)[:TOP_FEATURES]
    return [
        FeatureImportance(name=names[i], importance=float(result.importances_mean[i]))
        for i in order
    ]


# ---- persistence -----------------------------------------------------------------------


def model_path(data_dir: Path, project_id: int) -> Path:
    """Where a project's model lives: derived from the id only, never from user input."""
    return Path(data_dir) / "models" / "churn" / f"project-{int(project_id)}.joblib"


def save_model(data_dir: Path, project_id: int, bundle: dict[str, Any]) -> Path:
    path = model_path(data_dir, project_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        joblib.dump(bundle, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_model(data_dir: Path, project_id: int) -> dict[str, Any]:
    path = model_path(data_dir, project_id)
    if not path.is_file():
        raise ChurnModelError("no churn model trained yet: train one first")
    bundle = joblib.load(path)
    if not isinstance(bundle, dict) or bundle.get("format") != MODEL_FORMAT:
        raise ChurnModelError("the churn model file has an unknown format: retrain it")
    if bundle.get("sklearn") != sklearn.__version__ or bundle.get("project_id") != project_id:
        raise ChurnModelError(
            f"the churn model was trained with scikit-learn {bundle.get('sklearn')} "
            f"(installed: {sklearn.__version__}): retrain it"
        )
    return bundle


# ---- scoring ---------------------------------------------------------------------------


def score(
    store: EventStore, ctx: ProjectContext, bundle: dict[str, Any], *, as_of: date
) -> pa.Table:
    """(person_id, value_num = churn probability) for the population as of ``as_of``,
    predicted in batches straight from the Arrow feature table."""
    table = compute_features(
        store, ctx, as_of, bundle["event_types"], population_days=bundle["population_days"]
    )
    model = bundle["model"]
    names = bundle["features"]
    out = np.empty(table.num_rows, dtype=np.float64)
    with threadpool_limits(limits=OPENMP_THREADS, user_api="openmp"):
        for start in range(0, table.num_rows, SCORE_BATCH):
            stop = min(start + SCORE_BATCH, table.num_rows)
            out[start:stop] = model.predict_proba(matrix(table, names, start, stop))[:, 1]
    return pa.table({"person_id": table.column("person_id").cast(pa.string()), "value_num": out})


def summarise_scores(scores: pa.Table, *, as_of: date, threshold: float) -> ScoreReport:
    values = scores.column("value_num").to_numpy(zero_copy_only=False)
    histogram, _ = np.histogram(values, bins=HISTOGRAM_BINS, range=(0.0, 1.0))
    return ScoreReport(
        as_of=as_of,
        persons=len(values),
        over_threshold=int(np.sum(values >= threshold)),
        threshold=threshold,
        mean_risk=float(values.mean()) if len(values) else 0.0,
        histogram=[int(v) for v in histogram],
    )

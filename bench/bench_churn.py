"""Churn: features + scoring of 1,000,000 persons (target <= 60 s) and the classifier's
ROC-AUC on the demo data.

1. ``people_dataset()`` (bench/people_data.py, 1M persons, ~10M events): train once
   (not timed against a target), then time the scoring pass as the daily job runs it:
   the feature query, batch prediction from Arrow and publishing ``score:churn_risk``.
   Baseline (same run): the feature query alone, so the ratio shows what prediction and
   publishing add.
2. The demo product (``yunying.demo``, 50,000 persons, 90 days; cached under bench/.data):
   train with the time-based split and print ROC-AUC, PR-AUC and the top features.

    python bench/bench_churn.py                      # both parts
    python bench/bench_churn.py --persons 100000     # smaller people dataset
    python bench/bench_churn.py --skip-scoring       # only the demo ROC-AUC
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from common import DATA, END, log, machine, ratio
from people_data import PERSONS, context, dataset_path, people_dataset

from yunying.analytics.context import ProjectContext
from yunying.config import Settings
from yunying.people import churn_model
from yunying.people.churn_features import compute_features
from yunying.store import derived
from yunying.store.duckdb import DuckDBStore

TARGET_SECONDS = 60.0


def work_copy(persons: int) -> tuple[DuckDBStore, int, date]:
    """A private writable copy of the shared people dataset: scoring publishes values, and
    the other people benchmarks may hold the shared file open."""
    shared, project_id, end = people_dataset(persons=persons, read_only=True)
    shared.close()
    source = dataset_path(persons)
    copy = source.with_name(f"churn-work-{source.name}")
    if not copy.exists() or copy.stat().st_mtime < source.stat().st_mtime:
        log(f"copying {source.name} to {copy.name} …")
        shutil.copyfile(source, copy)
    return DuckDBStore(copy), project_id, end


def scoring(persons: int, repeat: int, *, retrain: bool, population_days: int | None) -> None:
    store, project_id, end = work_copy(persons)
    ctx = context()
    today = end + timedelta(days=1)
    try:
        models = DATA / f"churn-models-{persons}p"
        if not retrain:
            try:
                bundle = churn_model.load_model(models, project_id)
                log(f"using the model trained earlier ({models}; --retrain to train again)")
            except churn_model.ChurnModelError:
                retrain = True
        if retrain:
            log(f"training on {persons:,} persons (as if on {today}) …")
            t0 = time.perf_counter()
            bundle, report = churn_model.train(store, ctx, today=today)
            log(
                f"trained in {time.perf_counter() - t0:.1f} s: {report.algorithm}, "
                f"ROC-AUC {report.roc_auc:.3f}, PR-AUC {report.pr_auc:.3f}, "
                f"{report.train_rows:,} training / {report.validation_rows:,} validation rows"
            )
            churn_model.save_model(models, project_id, bundle)
            bundle = churn_model.load_model(models, project_id)
        if population_days is not None:
            bundle["population_days"] = population_days
        features, scores = [], []
        scored = 0
        for _ in range(repeat):
            t0 = time.perf_counter()
            table = compute_features(
                store, ctx, end, bundle["event_types"], population_days=bundle["population_days"]
            )
            features.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            result = churn_model.score(store, ctx, bundle, as_of=end)
            derived.write_values(store, project_id, "score:churn_risk", result)
            derived.prune(store, project_id, "score:churn_risk")
            scores.append(time.perf_counter() - t0)
            scored = result.num_rows
            assert scored == table.num_rows
        best, base = min(scores), min(features)
        verdict = "OK" if best <= TARGET_SECONDS else "OVER TARGET"
        print(f"\nscoring {persons:,}-person dataset ({scored:,} active persons scored)")
        print(f"  features only (baseline): {base:.2f} s (best of {repeat})")
        print(
            f"  features + predict + publish: {best:.2f} s (best of {repeat}), "
            f"{ratio(best, base)} the baseline; target <= {TARGET_SECONDS:.0f} s: {verdict}"
        )
    finally:
        store.close()


def demo_store(persons: int) -> tuple[DuckDBStore, ProjectContext]:
    """The demo product in a cached event store (project 1, Asia/Shanghai)."""
    from yunying.demo import load_demo

    root = DATA / f"churn-demo-{persons}p-{END}"
    path = root / "events.duckdb"
    done = root / "loaded"
    if not done.exists():
        root.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        log(f"loading the demo ({persons:,} persons, 90 days to {END}) into {root} …")
        store = DuckDBStore(path)
        store.ensure_schema()
        try:
            load_demo(
                Settings(data_dir=root), store, project_id=1, persons=persons, end=END,
                progress=False, timezone="Asia/Shanghai",
            )  # fmt: skip
        finally:
            store.close()
        done.write_text("ok\n")
    return DuckDBStore(path), ProjectContext(project_id=1, timezone="Asia/Shanghai")


def demo_auc(persons: int) -> None:
    store, ctx = demo_store(persons)
    try:
        t0 = time.perf_counter()
        _, report = churn_model.train(store, ctx, today=END + timedelta(days=1))
        seconds = time.perf_counter() - t0
    finally:
        store.close()
    print(f"\nchurn classifier on the demo data ({persons:,} persons, 90 days to {END})")
    print(f"  chosen: {report.algorithm}; candidates (validation ROC-AUC): "
          + ", ".join(f"{k} {v:.3f}" for k, v in report.candidates.items()))  # fmt: skip
    print(f"  ROC-AUC {report.roc_auc:.3f}, PR-AUC {report.pr_auc:.3f}, "
          f"validation churn rate {report.validation_churn_rate:.1%}")  # fmt: skip
    print(f"  split: train as of {', '.join(map(str, report.train_as_of))} "
          f"({report.train_rows:,} rows), validate as of {report.validation_as_of} "
          f"({report.validation_rows:,} rows), horizon {report.horizon_days} days")  # fmt: skip
    print("  top features: " + ", ".join(
        f"{f.name} ({f.importance:.3f})" for f in report.top_features[:5]))  # fmt: skip
    print(f"  training took {seconds:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=PERSONS, help="people dataset size")
    parser.add_argument("--demo-persons", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-scoring", action="store_true")
    parser.add_argument("--retrain", action="store_true", help="train even if a model is cached")
    parser.add_argument(
        "--population-days",
        type=int,
        default=None,
        help="score persons active in this many days (default: the model's 30; 90 = everyone)",
    )
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    print(machine())
    if not args.skip_scoring:
        scoring(
            args.persons, args.repeat, retrain=args.retrain, population_days=args.population_days
        )
    if not args.skip_demo:
        demo_auc(args.demo_persons)


if __name__ == "__main__":
    main()

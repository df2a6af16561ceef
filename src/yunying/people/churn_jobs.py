"""Churn jobs: ``JOBS`` lists them for yunying.jobs.registry.

``churn.daily`` evaluates the warning line, retrains the classifier once a week (or when
there is no usable model, or its settings changed), scores every active person, refreshes
the "churn risk" segment and refits BG/NBD when there are purchases. Every step replaces
its previous result (a new published run, the day's counts overwritten), so a retry after
a crash gives the same state. Too little data for a step is reported, not raised.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from yunying.config import Settings
from yunying.jobs.registry import JobSpec
from yunying.jobs.resources import job_session, job_store

RETRAIN_EVERY = timedelta(days=7)


def needs_retrain(session: Session, data_dir: Path, project_id: int, *, now: datetime) -> bool:
    """No usable model, a model older than a week, or settings that changed since."""
    from yunying.people.churn_config import latest_report, load_config
    from yunying.people.churn_model import ChurnModelError, load_model

    try:
        bundle = load_model(data_dir, project_id)
    except (ChurnModelError, OSError, ValueError):
        return True
    report = latest_report(session, project_id, "classifier")
    if report is None or now - report["created_at"] >= RETRAIN_EVERY:
        return True
    settings = load_config(session, project_id).settings
    return (bundle["horizon_days"], bundle["population_days"]) != (
        settings.horizon_days,
        settings.population_days,
    )


def churn_daily(
    settings: Settings, project_id: int, *, today: date | None = None, now: datetime | None = None
) -> dict[str, Any]:
    from yunying.db.projects import context_for, get_project
    from yunying.people import churn_service as svc
    from yunying.people.bgnbd import BgNbdError
    from yunying.people.churn_model import ChurnModelError

    out: dict[str, Any] = {}
    with job_session(settings) as session, job_store(settings) as store:
        ctx = context_for(get_project(session, project_id))
        day = today or ctx.today()
        warning = svc.evaluate_warning(session=session, store=store, ctx=ctx, as_of=day)
        out["warned"] = warning.total
        session.commit()
        kw: dict[str, Any] = {"session": session, "store": store, "ctx": ctx}
        if needs_retrain(session, settings.data_dir, project_id, now=now or datetime.now(UTC)):
            try:
                report = svc.train_model(**kw, data_dir=settings.data_dir, today=day)
                out["trained"] = {"algorithm": report.algorithm, "roc_auc": report.roc_auc}
            except ChurnModelError as exc:
                out["trained"] = f"skipped: {exc}"
            session.commit()
        try:
            scored = svc.score_persons(**kw, data_dir=settings.data_dir, as_of=day)
            out["scored"] = scored.persons
        except ChurnModelError as exc:
            out["scored"] = f"skipped: {exc}"
        session.commit()
        try:
            fit = svc.fit_bgnbd(**kw, as_of=day)
            out["bgnbd_customers"] = fit.customers
        except BgNbdError as exc:
            out["bgnbd_customers"] = f"skipped: {exc}"
    return out


def churn_train(settings: Settings, project_id: int) -> dict[str, Any]:
    """Retrain now (on demand), then score with the new model."""
    from yunying.db.projects import context_for, get_project
    from yunying.people import churn_service as svc

    with job_session(settings) as session, job_store(settings) as store:
        ctx = context_for(get_project(session, project_id))
        kw: dict[str, Any] = {"session": session, "store": store, "ctx": ctx}
        report = svc.train_model(**kw, data_dir=settings.data_dir)
        session.commit()
        scored = svc.score_persons(**kw, data_dir=settings.data_dir)
    return {"roc_auc": report.roc_auc, "algorithm": report.algorithm, "scored": scored.persons}


JOBS: list[JobSpec] = [
    JobSpec(
        "churn.daily",
        churn_daily,
        "daily",
        "Warning line, weekly retrain, churn-risk scores and segment, BG/NBD refit.",
    ),
    JobSpec("churn.train", churn_train, "manual", "Retrain the churn model now and rescore."),
]

"""``/api/projects/{id}/churn/…``: warning-line rules, the classifier and BG/NBD.

Thin shell over ``people.churn_service``: parse, call one service function, return its
model. Bad bodies are 422s naming the field (pydantic); work the data cannot support
(too few persons to train, no purchases to fit, no model yet) is a 400 saying why.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from yunying.api.deps import SecretProjectDep, SessionDep, StateDep
from yunying.db.projects import context_for
from yunying.people import churn_service as svc
from yunying.people.bgnbd import BgNbdError
from yunying.people.bgnbd_service import BgNbdReport
from yunying.people.churn_config import ModelSettings, load_config, save_rules, save_settings
from yunying.people.churn_model import ChurnModelError, ScoreReport, TrainReport
from yunying.people.churn_rules import WarningRules

router = APIRouter(prefix="/api/projects/{project_id}/churn", tags=["churn"])


class AsOfBody(BaseModel):
    as_of: date | None = Field(default=None, description="Local day (default: today).")


class TrainBody(BaseModel):
    today: date | None = Field(
        default=None, description="Train as if on this day (default: today); labels end before."
    )


class FitBody(AsOfBody):
    publish: bool = Field(default=True, description="Publish P(alive) and expected purchases.")


class ModelCard(BaseModel):
    classifier: dict[str, Any] | None
    scoring: dict[str, Any] | None
    bgnbd: dict[str, Any] | None


def _bad(exc: Exception) -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc))


@router.get("/rules", summary="Warning-line rules")
def get_rules(project: SecretProjectDep, session: SessionDep) -> WarningRules:
    return load_config(session, project.id).rules


@router.put("/rules", summary="Replace the warning-line rules")
def put_rules(body: WarningRules, project: SecretProjectDep, session: SessionDep) -> WarningRules:
    return save_rules(session, project.id, body)


@router.get("/settings", summary="Classifier and BG/NBD settings")
def get_settings(project: SecretProjectDep, session: SessionDep) -> ModelSettings:
    return load_config(session, project.id).settings


@router.put("/settings", summary="Replace the classifier and BG/NBD settings")
def put_settings(
    body: ModelSettings, project: SecretProjectDep, session: SessionDep
) -> ModelSettings:
    return save_settings(session, project.id, body)


@router.post("/evaluate", summary="Evaluate the warning line and publish churn:warning")
def evaluate(
    project: SecretProjectDep, session: SessionDep, state: StateDep, body: AsOfBody | None = None
) -> svc.WarningResult:
    as_of = body.as_of if body else None
    return svc.evaluate_warning(
        session=session, store=state.store, ctx=context_for(project), as_of=as_of
    )


@router.get("/warnings", summary="Persons over the warning line (newest evaluation)")
def warnings(
    project: SecretProjectDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    rule: Annotated[str | None, Query(max_length=40)] = None,
) -> svc.WarnedPage:
    return svc.warned_persons(
        store=state.store, project_id=project.id, limit=limit, offset=offset, rule=rule
    )


@router.post("/train", summary="Train the churn classifier (time-based split)")
def train(
    project: SecretProjectDep, session: SessionDep, state: StateDep, body: TrainBody | None = None
) -> TrainReport:
    try:
        return svc.train_model(
            session=session,
            store=state.store,
            ctx=context_for(project),
            data_dir=state.settings.data_dir,
            today=body.today if body else None,
        )
    except ChurnModelError as exc:
        raise _bad(exc) from exc


@router.post("/score", summary="Score every active person and publish score:churn_risk")
def score(
    project: SecretProjectDep, session: SessionDep, state: StateDep, body: AsOfBody | None = None
) -> ScoreReport:
    try:
        return svc.score_persons(
            session=session,
            store=state.store,
            ctx=context_for(project),
            data_dir=state.settings.data_dir,
            as_of=body.as_of if body else None,
        )
    except ChurnModelError as exc:
        raise _bad(exc) from exc


@router.get("/model", summary="Newest classifier metrics, scoring summary and BG/NBD fit")
def model(project: SecretProjectDep, session: SessionDep) -> ModelCard:
    return ModelCard(**svc.model_card(session=session, project_id=project.id))


@router.post("/bgnbd/fit", summary="Fit BG/NBD on purchase events")
def bgnbd_fit(
    project: SecretProjectDep, session: SessionDep, state: StateDep, body: FitBody | None = None
) -> BgNbdReport:
    body = body or FitBody()
    try:
        return svc.fit_bgnbd(
            session=session,
            store=state.store,
            ctx=context_for(project),
            as_of=body.as_of,
            publish=body.publish,
        )
    except BgNbdError as exc:
        raise _bad(exc) from exc


@router.get("/at-risk", summary="Scored persons, highest churn risk first")
def at_risk(
    project: SecretProjectDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[svc.RiskyPerson]:
    return svc.at_risk_persons(store=state.store, project_id=project.id, limit=limit, offset=offset)


@router.get("/persons/{person_id}", summary="One person's churn scores")
def person(
    person_id: Annotated[str, PathParam(min_length=1, max_length=200)],
    project: SecretProjectDep,
    state: StateDep,
) -> svc.PersonScores:
    return svc.person_scores(store=state.store, project_id=project.id, person_id=person_id)

"""``/api/projects/{id}/layers``: user layers (用户分层) over HTTP.

Settings (GET/PUT, a bad field is a 422 whose ``loc`` names it), compute-and-publish,
the RFM group summary and the activity-layer summary as of a date, the persons of a
group or layer (paged), and the week/month transition matrix. Secret-key auth as every
``/api/`` route; a value the service rejects (a date in the future for transitions) is a
400 naming the parameter.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from yunying.api.deps import SecretProjectDep, SessionDep, StateDep
from yunying.db.projects import context_for
from yunying.people import layer_service as service
from yunying.people.layer_settings import LayerSettings
from yunying.people.layers import LayerPersonsPage, LayersResult
from yunying.people.rfm import RfmPersonsPage, RfmResult
from yunying.people.transitions import TransitionResult

router = APIRouter(prefix="/api/projects/{project_id}/layers", tags=["layers"])

GroupKey = Literal[
    "important_value", "important_develop", "important_keep", "important_retain",
    "general_value", "general_develop", "general_keep", "general_retain",
]  # fmt: skip
LayerKey = Literal["recalled", "core", "active", "churn_risk", "silent", "churned"]
AsOf = Annotated[
    date | None,
    Query(description="The as-of local day (default: today in the project's time zone)."),
]
Limit = Annotated[int, Query(ge=1, le=1000, description="Persons per page.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Persons to skip.")]


@router.get("/settings", response_model=LayerSettings, summary="Layer and RFM settings")
def get_settings(project: SecretProjectDep, session: SessionDep) -> LayerSettings:
    return service.settings_for(session, project.id)


@router.put("/settings", response_model=LayerSettings, summary="Replace the settings")
def put_settings(
    body: LayerSettings, project: SecretProjectDep, session: SessionDep
) -> LayerSettings:
    return service.update_settings(session=session, project_id=project.id, data=body.model_dump())


@router.post("/compute", response_model=service.ComputeReport, summary="Compute and publish layers")
def compute(
    project: SecretProjectDep, session: SessionDep, state: StateDep, as_of: AsOf = None
) -> service.ComputeReport:
    """RFM groups and activity layers for every person, published as ``rfm:group``,
    ``rfm:score`` and ``layer:activity`` for segments and profiles."""
    return service.compute_and_publish(
        store=state.store,
        ctx=context_for(project),
        settings=service.settings_for(session, project.id),
        as_of=as_of,
    )


@router.get("/rfm", response_model=RfmResult, summary="RFM groups summary")
def rfm(
    project: SecretProjectDep, session: SessionDep, state: StateDep, as_of: AsOf = None
) -> RfmResult:
    return service.rfm_summary(
        session=session, store=state.store, ctx=context_for(project), as_of=as_of
    )


@router.get("/rfm/persons", response_model=RfmPersonsPage, summary="Persons of an RFM group")
def rfm_persons(
    project: SecretProjectDep,
    session: SessionDep,
    state: StateDep,
    group: Annotated[GroupKey | None, Query(description="Omit for every buyer.")] = None,
    as_of: AsOf = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> RfmPersonsPage:
    return service.group_persons(
        session=session, store=state.store, ctx=context_for(project), group=group,
        as_of=as_of, limit=limit, offset=offset,
    )  # fmt: skip


@router.get("/activity", response_model=LayersResult, summary="Activity layers summary")
def activity(
    project: SecretProjectDep, session: SessionDep, state: StateDep, as_of: AsOf = None
) -> LayersResult:
    return service.layers_summary(
        session=session, store=state.store, ctx=context_for(project), as_of=as_of
    )


@router.get(
    "/activity/persons", response_model=LayerPersonsPage, summary="Persons of an activity layer"
)
def activity_persons(
    project: SecretProjectDep,
    session: SessionDep,
    state: StateDep,
    layer: Annotated[LayerKey | None, Query(description="Omit for every person.")] = None,
    as_of: AsOf = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> LayerPersonsPage:
    return service.layer_persons_page(
        session=session, store=state.store, ctx=context_for(project), layer=layer,
        as_of=as_of, limit=limit, offset=offset,
    )  # fmt: skip


@router.get(
    "/transitions",
    response_model=TransitionResult,
    summary="Transition matrix between activity layers",
    responses={400: {"description": "The date is in the future."}},
)
def transitions(
    project: SecretProjectDep,
    session: SessionDep,
    state: StateDep,
    period: Annotated[Literal["week", "month"], Query()] = "week",
    day: Annotated[
        date | None,
        Query(alias="date", description="A day of the period to end at (default: today)."),
    ] = None,
) -> TransitionResult:
    """From the previous period's last day to this period's (or today, if sooner)."""
    try:
        return service.transitions(
            session=session, store=state.store, ctx=context_for(project), period=period, day=day
        )
    except ValueError as exc:
        raise HTTPException(400, detail=f"date: {exc}") from None

"""``GET /api/projects/{id}/people/{person}``: one person's profile (用户画像).

``{person}`` is a person id, or a distinct id with ``?by=distinct_id`` (the id your app
sends; the person it belongs to now is shown). Unknown ids — and every id of another
project — are 404.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import Response

from yunying.api.deps import SecretProjectDep, SessionDep, StateDep
from yunying.db.projects import context_for
from yunying.insights.errors import NotFound
from yunying.insights.people import resolve_distinct_id
from yunying.people.profile import Profile, full_profile

router = APIRouter(prefix="/api/projects/{project_id}/people", tags=["people"])


@router.get(
    "/{person:path}",
    response_model=Profile,
    summary="A person's profile",
    responses={404: {"description": "No such person (or distinct id) in this project."}},
)
def get_person(
    person: str,
    project: SecretProjectDep,
    state: StateDep,
    session: SessionDep,
    by: Annotated[Literal["person_id", "distinct_id"], Query()] = "person_id",
    lifecycle_interval: Annotated[Literal["day", "week", "month"], Query()] = "week",
    recent: Annotated[int, Query(ge=0, le=500)] = 50,
) -> Response:
    """Properties, first/last touch, first and last seen, active days, event counts by
    type, lifecycle stage, and derived layer, RFM group, churn risk, P(alive) and
    segments when those jobs have run. See docs/channels.md (profiles)."""
    ctx = context_for(project)
    try:
        person_id = resolve_distinct_id(state.store, ctx, person) if by == "distinct_id" else person
        profile = full_profile(
            state.store,
            ctx,
            person_id,
            session=session,
            lifecycle_interval=lifecycle_interval,
            recent=recent,
        )
    except NotFound:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"person {person!r} not found"
        ) from None
    return Response(profile.model_dump_json(), media_type="application/json")

"""People (用户画像): the person list (search, property filters), the persons of a funnel
step or a channel, and one person's profile (``people.profile``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import QueryParams

from yunying.analytics.funnels import FunnelQuery, funnel_persons
from yunying.insights.people import PersonPage, list_persons
from yunying.people.profile import full_profile
from yunying.web.charts import activity_calendar
from yunying.web.deps import ProjectAccessDep, SessionDep, StateDep
from yunying.web.form_state import FormState
from yunying.web.forms import OPERATORS, FormError, parse_filters, parse_insight
from yunying.web.page_helpers import PLOTLY_JS, error_text, found, translator
from yunying.web.profile_view import catalog_keys, event_counts_figure, risk_level
from yunying.web.templating import render

router = APIRouter()

PAGE_SIZE = 50
SHOWN_PROPERTIES = 3


def _page_number(params: Any) -> int:
    raw = str(params.get("page") or "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise FormError("page", "integer", min=1, max=100_000)
    return int(raw)


def _listing(
    request: Request, *, page: PersonPage | None, form: FormState, error: FormError | None,
    number: int, title: str, funnel: dict[str, Any] | None = None, has_next: bool = False,
    channel: dict[str, Any] | None = None, message: str | None = None,
) -> Response:  # fmt: skip
    t = translator(request)
    base = request.url.path
    keep = form.query_string(drop=("page",))
    sep = "&" if keep else ""
    return render(
        request,
        "people/list.html",
        status_code=400 if error else 200,
        page=page,
        form=form,
        error=error,
        error_message=message or (error_text(t, error) if error else ""),
        operators=OPERATORS,
        title=title,
        funnel=funnel,
        channel=channel,
        shown=SHOWN_PROPERTIES,
        prev_url=f"{base}?{keep}{sep}page={number - 1}" if number > 1 else None,
        next_url=f"{base}?{keep}{sep}page={number + 1}" if has_next else None,
        number=number,
    )


@router.get("/p/{project_id}/people")
def people(request: Request, access: ProjectAccessDep, state: StateDep) -> Response:
    params = request.query_params
    form = FormState.of(params)
    try:
        number = _page_number(params)
        filters = parse_filters(params, person_only=True)
    except FormError as err:
        return _listing(request, page=None, form=form, error=err, number=1, title="people.title")
    page = list_persons(
        state.store,
        access.ctx,
        search=str(params.get("q") or "") or None,
        filters=filters,
        limit=PAGE_SIZE,
        offset=(number - 1) * PAGE_SIZE,
    )
    return _listing(
        request, page=page, form=form, error=None, number=number, title="people.title",
        has_next=page.offset + len(page.persons) < page.total,
    )  # fmt: skip


@router.get("/p/{project_id}/people/funnel")
def funnel_step_people(request: Request, access: ProjectAccessDep, state: StateDep) -> Response:
    """Persons who reached (or dropped after) one step of the funnel in the parameters."""
    params = request.query_params
    form = FormState.of(params)
    try:
        number = _page_number(params)
        parsed = parse_insight(
            "funnel", QueryParams(params.multi_items()), today=access.ctx.today()
        )
        query: FunnelQuery = parsed.query  # type: ignore[assignment]
        raw_step = str(params.get("funnel_step") or "")
        if not raw_step.isdigit() or not 1 <= int(raw_step) <= len(query.steps):
            raise FormError("funnel_step", "integer", min=1, max=len(query.steps))
        step, dropped = int(raw_step), params.get("dropped") == "1"
    except FormError as err:
        return _listing(
            request, page=None, form=form, error=err, number=1, title="people.funnel.title"
        )
    breakdown_value = params.get("breakdown_value")
    ids = funnel_persons(
        state.store, access.ctx, query, step, dropped=dropped, limit=PAGE_SIZE + 1,
        offset=(number - 1) * PAGE_SIZE, breakdown_value=breakdown_value,
    )  # fmt: skip
    page = list_persons(state.store, access.ctx, person_ids=ids[:PAGE_SIZE], limit=PAGE_SIZE)
    funnel = {
        "step": step,
        "step_name": query.steps[step - 1].label,
        "dropped": dropped,
        "breakdown_value": breakdown_value,
        "back": f"/p/{access.project_id}/insights/funnels?"
        + form.query_string(drop=("funnel_step", "dropped", "breakdown_value", "page")),
    }
    return _listing(
        request, page=page, form=form, error=None, number=number,
        title="people.funnel.title", funnel=funnel, has_next=len(ids) > PAGE_SIZE,
    )  # fmt: skip


@router.get("/p/{project_id}/people/{person_id}")
def person(
    request: Request, person_id: str, access: ProjectAccessDep, state: StateDep, session: SessionDep
) -> Response:
    with found():
        profile = full_profile(state.store, access.ctx, person_id, session=session)
    t = translator(request)
    weeks = activity_calendar([(d.day, d.events) for d in profile.calendar], access.ctx.week_start)
    return render(
        request,
        "people/person.html",
        profile=profile,
        weeks=weeks,
        active_days=sum(1 for d in profile.calendar if d.events),
        events_figure=event_counts_figure(profile, t) if profile.event_counts else None,
        risk_level=risk_level(profile.churn_risk),
        layer_keys=catalog_keys(),
        plotly_js=PLOTLY_JS,
    )

"""Event exploration: the latest events (auto-refreshing, with filters) and the list of
event definitions with their 30-day volumes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from yunying.insights.explore import VOLUME_DAYS, event_definitions, event_names, latest_events
from yunying.web.deps import ProjectAccessDep, StateDep
from yunying.web.form_state import FormState
from yunying.web.forms import OPERATORS, FormError, parse_filters
from yunying.web.page_helpers import error_text, translator
from yunying.web.templating import render

router = APIRouter()

LATEST = 100
REFRESH_SECONDS = 10
SHOWN_PROPERTIES = 6


def _explore(request: Request, access: ProjectAccessDep, state: StateDep, template: str):
    params = request.query_params
    form = FormState.of(params)
    event = str(params.get("event") or "").strip() or None
    error, rows = None, []
    try:
        if event is not None and len(event) > 400:
            raise FormError("event", "too_long", max=400)
        filters = parse_filters(params)
        rows = latest_events(state.store, access.ctx, event=event, filters=filters, limit=LATEST)
    except FormError as err:
        error = err
    except ValueError:
        error = FormError("query", "rejected")
    t = translator(request)
    return render(
        request,
        template,
        status_code=400 if error else 200,
        form=form,
        rows=rows,
        error=error,
        error_message=error_text(t, error) if error else "",
        operators=OPERATORS,
        event_names=event_names(state.store, access.ctx),
        refresh=REFRESH_SECONDS,
        shown=SHOWN_PROPERTIES,
        query=form.query_string(),
    )


@router.get("/p/{project_id}/events")
def explorer(request: Request, access: ProjectAccessDep, state: StateDep) -> Response:
    return _explore(request, access, state, "events/explorer.html")


@router.get("/p/{project_id}/events/latest")
def latest(request: Request, access: ProjectAccessDep, state: StateDep) -> Response:
    """The explorer's table alone (htmx polls it)."""
    return _explore(request, access, state, "events/_rows.html")


@router.get("/p/{project_id}/events/definitions")
def definitions(request: Request, access: ProjectAccessDep, state: StateDep) -> Response:
    return render(
        request,
        "events/definitions.html",
        definitions=event_definitions(state.store, access.ctx),
        days=VOLUME_DAYS,
    )

"""Insight pages: trends, retention, funnels, paths, lifecycle, stickiness; saved insights.

An insight is a GET form (shareable URL); its CSV export is the same URL + ``/export.csv``.
Saving stores the parsed query (analyst+); a saved insight opens at
``/p/{id}/insights/saved/{insight_id}`` and can be renamed, updated, deleted and pinned.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from starlette.datastructures import QueryParams

from yunying.insights import dashboards as boards
from yunying.insights import saved
from yunying.insights.errors import InsightError
from yunying.insights.explore import event_names
from yunying.web.access import ProjectAccess
from yunying.web.deps import AnalystAccessDep, ProjectAccessDep, SessionDep, StateDep
from yunying.web.errors import PageError
from yunying.web.form_state import FormState, insight_params, query_string
from yunying.web.forms import (
    DEFAULT_RANGE,
    KIND_SLUGS,
    OPERATORS,
    RANGES,
    SLUGS,
    FormError,
    Options,
)
from yunying.web.forms import parse_insight as parse_form
from yunying.web.insight_view import InsightView, build_view
from yunying.web.page_helpers import PLOTLY_JS, csv_response, error_text, found, log, translator
from yunying.web.templating import render

router = APIRouter()

_NOTICES = {
    "saved": "insights.notice.saved",
    "renamed": "insights.notice.renamed",
    "updated": "insights.notice.updated",
    "pinned": "insights.notice.pinned",
    "deleted": "insights.notice.deleted",
}


def kind_of(slug: str) -> str:
    kind = SLUGS.get(slug)
    if kind is None:
        raise PageError(404)
    return kind


def default_params(kind: str, names: list[str], access: ProjectAccess) -> list[tuple[str, str]]:
    """A first query for a fresh page: the most used event (funnels wait for steps)."""
    top = next((n for n in names if not n.startswith("$identify")), None)
    if top is None or kind == "funnel":
        return []
    if kind == "trends":
        return [("event", top)]
    if kind == "retention":
        return [("start_event", access.ctx.activation_event or top)]
    if kind == "paths":
        return [("start_event", top)]
    return [("event", top)]


def run(state: Any, access: ProjectAccess, query: BaseModel) -> BaseModel:
    """Run a query; the metric's own ValueError (or an engine error) → FormError."""
    try:
        return saved.run_query(state.store, access.ctx, query)
    except ValueError as exc:
        log.info("insight rejected: %s", exc)
        raise FormError("query", "rejected") from exc
    except Exception as exc:  # an engine error (bad regex, …) is shown, not a 500
        log.exception("insight query failed")
        raise FormError("query", "failed") from exc


def funnel_linker(access: ProjectAccess, params: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    """Persons at (or dropped after) a funnel step → the people list for that step."""
    base = query_string(params)

    def link(step: int, dropped: bool, value: str | None) -> str:
        extra = [("funnel_step", str(step)), ("dropped", "1" if dropped else "0")]
        if value is not None:
            extra.append(("breakdown_value", value))
        return f"/p/{access.project_id}/people/funnel?{base}&{query_string(extra)}"

    return link


def evaluate(
    request: Request, state: Any, access: ProjectAccess, kind: str, params: Any
) -> tuple[FormState, InsightView | None, FormError | None, Any]:
    """Parse the form and run it: (form state, view or None, error or None, parsed)."""
    names = event_names(state.store, access.ctx)
    state_form = FormState.of(params)
    if state_form.empty:
        state_form = FormState(default_params(kind, names, access))
        if state_form.empty:
            return state_form, None, None, None
    try:
        parsed = parse_form(kind, QueryParams(state_form.pairs), today=access.ctx.today())
        result = run(state, access, parsed.query)
    except FormError as err:
        return state_form, None, err, None
    t = translator(request)
    link = funnel_linker(access, insight_params(parsed.query)) if kind == "funnel" else None
    view = build_view(kind, result, t, options=parsed.options, step_link=link)
    return state_form, view, None, parsed


def page(
    request: Request,
    access: ProjectAccess,
    session: Any,
    state: Any,
    *,
    kind: str,
    form: FormState,
    view: InsightView | None,
    error: FormError | None,
    insight: Any = None,
    notice: str = "",
) -> Response:
    t = translator(request)
    base = f"/p/{access.project_id}/insights"
    action = f"{base}/saved/{insight.id}" if insight else f"{base}/{KIND_SLUGS[kind]}"
    qs = form.query_string()
    return render(
        request,
        "insights/insight.html",
        status_code=400 if error else 200,
        kind=kind,
        slug=KIND_SLUGS[kind],
        form=form,
        view=view,
        error=error,
        error_message=error_text(t, error) if error else "",
        insight=insight,
        action=action,
        export_url=f"{action}/export.csv?{qs}",
        query=qs,
        notice_key=_NOTICES.get(notice),
        event_names=event_names(state.store, access.ctx),
        operators=OPERATORS,
        ranges=RANGES,
        default_days=DEFAULT_RANGE.get(kind, 30),
        dashboards=boards.list_dashboards(session, project_id=access.project_id),
        pinned_on=boards.dashboards_with(
            session, project_id=access.project_id, insight_id=insight.id
        )
        if insight
        else [],
        plotly_js=PLOTLY_JS,
    )


@router.get("/p/{project_id}/insights")
def insight_list(
    request: Request, access: ProjectAccessDep, session: SessionDep, notice: str = ""
) -> Response:
    return render(
        request,
        "insights/list.html",
        insights=saved.list_insights(session, project_id=access.project_id),
        slugs=KIND_SLUGS,
        notice_key=_NOTICES.get(notice),
    )


@router.get("/p/{project_id}/insights/{slug}")
def insight_page(
    request: Request, slug: str, access: ProjectAccessDep, session: SessionDep, state: StateDep
) -> Response:
    kind = kind_of(slug)
    form, view, error, _ = evaluate(request, state, access, kind, request.query_params)
    return page(request, access, session, state, kind=kind, form=form, view=view, error=error)


@router.get("/p/{project_id}/insights/{slug}/export.csv")
def insight_csv(request: Request, slug: str, access: ProjectAccessDep, state: StateDep):
    kind = kind_of(slug)
    _, view, error, _ = evaluate(request, state, access, kind, request.query_params)
    if error or view is None:
        t = translator(request)
        message = error_text(t, error) if error else t("insights.error.nothing_to_export")
        return Response(message, status_code=400, media_type="text/plain; charset=utf-8")
    return csv_response(view.export_table, slug, access.ctx.today())


def _pin(session: Any, access: ProjectAccess, insight_id: int, dashboard: str, new_name: str):  # type: ignore[no-untyped-def]
    """Pin to an existing dashboard (id), or to a new one (``dashboard == "new"``)."""
    if dashboard == "new":
        board = boards.create_dashboard(
            session,
            project_id=access.project_id,
            name=new_name,
            created_by=access.viewer.user_id,
        )
        dashboard = str(board.id)
    if dashboard:
        if not dashboard.isdigit():
            raise InsightError("dashboard_id", "choice", "not a dashboard")
        with found():
            boards.pin_insight(
                session,
                project_id=access.project_id,
                dashboard_id=int(dashboard),
                insight_id=insight_id,
            )


def _form_failure(
    request: Request, access: ProjectAccess, session: Any, state: Any, kind: str, query: str,
    err: FormError | InsightError, insight: Any = None,
) -> Response:  # fmt: skip
    """Re-show the insight with the message naming the bad field (nothing is saved)."""
    session.rollback()
    form, view, _, _ = evaluate(request, state, access, kind, QueryParams(query))
    return page(
        request, access, session, state, kind=kind, form=form, view=view,
        error=err, insight=insight,
    )  # fmt: skip


@router.post("/p/{project_id}/insights/save")
def save_insight(
    request: Request,
    access: AnalystAccessDep,
    session: SessionDep,
    state: StateDep,
    kind: Annotated[str, Form()] = "",
    query: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    dashboard_id: Annotated[str, Form()] = "",
    new_dashboard: Annotated[str, Form()] = "",
) -> Response:
    if kind not in KIND_SLUGS:
        raise PageError(400)
    try:
        parsed = parse_form(kind, QueryParams(query), today=access.ctx.today())
        insight = saved.create_insight(
            session,
            project_id=access.project_id,
            name=name,
            query=parsed.query,
            options=parsed.options.as_dict(),
            created_by=access.viewer.user_id,
        )
        _pin(session, access, insight.id, dashboard_id, new_dashboard)
    except (FormError, InsightError) as err:
        return _form_failure(request, access, session, state, kind, query, err)
    url = f"/p/{access.project_id}/insights/saved/{insight.id}?notice=saved"
    return RedirectResponse(url, status_code=303)


def _saved_params(insight: Any) -> list[tuple[str, str]]:
    """The saved query as form parameters; none when it no longer validates (the page
    then shows an empty form with the error instead of failing)."""
    options = Options.from_dict(saved.insight_options(insight))
    try:
        return insight_params(saved.insight_query(insight), options)
    except InsightError:
        log.warning("saved insight %s no longer validates", insight.id)
        return []


@router.get("/p/{project_id}/insights/saved/{insight_id}")
def saved_page(
    request: Request,
    insight_id: int,
    access: ProjectAccessDep,
    session: SessionDep,
    state: StateDep,
    notice: str = "",
) -> Response:
    with found():
        insight = saved.get_insight(session, project_id=access.project_id, insight_id=insight_id)
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "notice"]
    stored = params or _saved_params(insight)
    if not stored:  # the saved query no longer validates: say so, offer the empty form
        return page(
            request, access, session, state, kind=insight.kind, form=FormState([]), view=None,
            error=FormError("query", "invalid_query"), insight=insight,
        )  # fmt: skip
    form, view, error, _ = evaluate(request, state, access, insight.kind, QueryParams(stored))
    return page(
        request, access, session, state, kind=insight.kind, form=form, view=view,
        error=error, insight=insight, notice=notice,
    )  # fmt: skip


@router.get("/p/{project_id}/insights/saved/{insight_id}/export.csv")
def saved_csv(
    request: Request,
    insight_id: int,
    access: ProjectAccessDep,
    session: SessionDep,
    state: StateDep,
) -> Response:
    with found():
        insight = saved.get_insight(session, project_id=access.project_id, insight_id=insight_id)
    params = request.query_params.multi_items()
    source = QueryParams(params) if params else QueryParams(_saved_params(insight))
    _, view, error, _ = evaluate(request, state, access, insight.kind, source)
    if error or view is None:
        return Response(status_code=400)
    return csv_response(view.export_table, KIND_SLUGS[insight.kind], access.ctx.today())


@router.post("/p/{project_id}/insights/saved/{insight_id}/rename")
def rename(
    request: Request,
    insight_id: int,
    access: AnalystAccessDep,
    session: SessionDep,
    state: StateDep,
    name: Annotated[str, Form()] = "",
) -> Response:
    with found():
        insight = saved.get_insight(session, project_id=access.project_id, insight_id=insight_id)
    try:
        saved.rename_insight(
            session, project_id=access.project_id, insight_id=insight_id, name=name
        )
    except InsightError as err:
        query = query_string(_saved_params(insight))
        return _form_failure(request, access, session, state, insight.kind, query, err, insight)
    url = f"/p/{access.project_id}/insights/saved/{insight_id}?notice=renamed"
    return RedirectResponse(url, status_code=303)


@router.post("/p/{project_id}/insights/saved/{insight_id}/update")
def update(
    request: Request,
    insight_id: int,
    access: AnalystAccessDep,
    session: SessionDep,
    state: StateDep,
    query: Annotated[str, Form()] = "",
) -> Response:
    with found():
        insight = saved.get_insight(session, project_id=access.project_id, insight_id=insight_id)
    try:
        parsed = parse_form(insight.kind, QueryParams(query), today=access.ctx.today())
        saved.update_insight_query(
            session,
            project_id=access.project_id,
            insight_id=insight_id,
            query=parsed.query,
            options=parsed.options.as_dict(),
        )
    except (FormError, InsightError) as err:
        return _form_failure(request, access, session, state, insight.kind, query, err, insight)
    url = f"/p/{access.project_id}/insights/saved/{insight_id}?notice=updated"
    return RedirectResponse(url, status_code=303)


@router.post("/p/{project_id}/insights/saved/{insight_id}/pin")
def pin(
    request: Request,
    insight_id: int,
    access: AnalystAccessDep,
    session: SessionDep,
    state: StateDep,
    dashboard_id: Annotated[str, Form()] = "",
    new_dashboard: Annotated[str, Form()] = "",
) -> Response:
    with found():
        insight = saved.get_insight(session, project_id=access.project_id, insight_id=insight_id)
    try:
        if not dashboard_id:
            raise InsightError("dashboard_id", "required", "choose a dashboard")
        _pin(session, access, insight.id, dashboard_id, new_dashboard)
    except InsightError as err:
        query = query_string(_saved_params(insight))
        return _form_failure(request, access, session, state, insight.kind, query, err, insight)
    url = f"/p/{access.project_id}/insights/saved/{insight_id}?notice=pinned"
    return RedirectResponse(url, status_code=303)


@router.post("/p/{project_id}/insights/saved/{insight_id}/delete")
def delete(insight_id: int, access: AnalystAccessDep, session: SessionDep) -> Response:
    with found():
        saved.delete_insight(session, project_id=access.project_id, insight_id=insight_id)
    return RedirectResponse(f"/p/{access.project_id}/insights?notice=deleted", status_code=303)

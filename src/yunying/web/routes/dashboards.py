"""Dashboards: create, rename, delete; tiles of saved insights pinned, moved and unpinned.

The dashboard page lists its tiles and each tile's chart is fetched by htmx from
``…/tiles/{tile_id}``, so the page itself answers at once and a slow insight only delays
its own tile.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from yunying.insights import dashboards as boards
from yunying.insights import saved
from yunying.insights.errors import InsightError
from yunying.web.access import ProjectAccess
from yunying.web.deps import AnalystAccessDep, ProjectAccessDep, SessionDep, StateDep
from yunying.web.errors import PageError
from yunying.web.forms import KIND_SLUGS, FormError, Options
from yunying.web.insight_view import build_view, compact
from yunying.web.page_helpers import PLOTLY_JS, error_text, found, translator
from yunying.web.routes.insights import run
from yunying.web.templating import render

router = APIRouter()

_NOTICES = {
    "created": "dashboards.notice.created",
    "renamed": "dashboards.notice.renamed",
    "deleted": "dashboards.notice.deleted",
    "moved": "dashboards.notice.moved",
    "removed": "dashboards.notice.removed",
    "pinned": "dashboards.notice.pinned",
}


def _list(
    request: Request, access: ProjectAccess, session: Any, *, notice: str = "",
    error: InsightError | None = None, name: str = "",
) -> Response:  # fmt: skip
    t = translator(request)
    return render(
        request,
        "dashboards/list.html",
        status_code=400 if error else 200,
        dashboards=boards.list_dashboards(session, project_id=access.project_id),
        notice_key=_NOTICES.get(notice),
        error=error,
        error_message=error_text(t, error) if error else "",
        form_name=name,
    )


@router.get("/p/{project_id}/dashboards")
def dashboard_list(
    request: Request, access: ProjectAccessDep, session: SessionDep, notice: str = ""
) -> Response:
    return _list(request, access, session, notice=notice)


@router.post("/p/{project_id}/dashboards")
def create(
    request: Request,
    access: AnalystAccessDep,
    session: SessionDep,
    name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    try:
        board = boards.create_dashboard(
            session,
            project_id=access.project_id,
            name=name,
            description=description,
            created_by=access.viewer.user_id,
        )
    except InsightError as err:
        session.rollback()
        return _list(request, access, session, error=err, name=name)
    url = f"/p/{access.project_id}/dashboards/{board.id}?notice=created"
    return RedirectResponse(url, status_code=303)


def _board_page(
    request: Request, access: ProjectAccess, session: Any, dashboard_id: int, *,
    notice: str = "", error: InsightError | None = None,
) -> Response:  # fmt: skip
    t = translator(request)
    with found():
        board = boards.get_dashboard(
            session, project_id=access.project_id, dashboard_id=dashboard_id
        )
    tiles = boards.tiles(session, board)
    return render(
        request,
        "dashboards/show.html",
        status_code=400 if error else 200,
        board=board,
        tiles=tiles,
        slugs=KIND_SLUGS,
        notice_key=_NOTICES.get(notice),
        error=error,
        error_message=error_text(t, error) if error else "",
        plotly_js=PLOTLY_JS,
    )


@router.get("/p/{project_id}/dashboards/{dashboard_id}")
def show(
    request: Request,
    dashboard_id: int,
    access: ProjectAccessDep,
    session: SessionDep,
    notice: str = "",
) -> Response:
    return _board_page(request, access, session, dashboard_id, notice=notice)


@router.get("/p/{project_id}/dashboards/{dashboard_id}/tiles/{tile_id}")
def tile(
    request: Request,
    dashboard_id: int,
    tile_id: int,
    access: ProjectAccessDep,
    session: SessionDep,
    state: StateDep,
) -> Response:
    """One tile's chart (an htmx fragment)."""
    with found():
        board = boards.get_dashboard(
            session, project_id=access.project_id, dashboard_id=dashboard_id
        )
    item = next((x for x in boards.tiles(session, board) if x.id == tile_id), None)
    if item is None:
        raise PageError(404)
    insight = item.insight
    today = access.ctx.today()
    view, message = None, ""
    try:
        query = saved.insight_query(insight, today=today)
        result = run(state, access, query)
        options = Options.from_dict(saved.insight_options(insight))
        view = compact(build_view(insight.kind, result, translator(request), options=options))
    except (FormError, InsightError) as err:
        message = error_text(translator(request), err)
    return render(
        request, "dashboards/_tile.html", tile=item, insight=insight, view=view, message=message
    )


@router.post("/p/{project_id}/dashboards/{dashboard_id}/rename")
def rename(
    request: Request,
    dashboard_id: int,
    access: AnalystAccessDep,
    session: SessionDep,
    name: Annotated[str, Form()] = "",
    description: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        with found():
            boards.rename_dashboard(
                session,
                project_id=access.project_id,
                dashboard_id=dashboard_id,
                name=name,
                description=description,
            )
    except InsightError as err:
        session.rollback()
        return _board_page(request, access, session, dashboard_id, error=err)
    url = f"/p/{access.project_id}/dashboards/{dashboard_id}?notice=renamed"
    return RedirectResponse(url, status_code=303)


@router.post("/p/{project_id}/dashboards/{dashboard_id}/delete")
def delete(dashboard_id: int, access: AnalystAccessDep, session: SessionDep) -> Response:
    with found():
        boards.delete_dashboard(session, project_id=access.project_id, dashboard_id=dashboard_id)
    return RedirectResponse(f"/p/{access.project_id}/dashboards?notice=deleted", status_code=303)


@router.post("/p/{project_id}/dashboards/{dashboard_id}/tiles")
def pin(
    dashboard_id: int,
    access: AnalystAccessDep,
    session: SessionDep,
    insight_id: Annotated[int, Form()],
) -> Response:
    with found():
        boards.pin_insight(
            session, project_id=access.project_id, dashboard_id=dashboard_id, insight_id=insight_id
        )
    url = f"/p/{access.project_id}/dashboards/{dashboard_id}?notice=pinned"
    return RedirectResponse(url, status_code=303)


@router.post("/p/{project_id}/dashboards/{dashboard_id}/tiles/{tile_id}/move")
def move(
    request: Request,
    dashboard_id: int,
    tile_id: int,
    access: AnalystAccessDep,
    session: SessionDep,
    direction: Annotated[str, Form()] = "",
) -> Response:
    try:
        with found():
            boards.move_tile(
                session,
                project_id=access.project_id,
                dashboard_id=dashboard_id,
                tile_id=tile_id,
                direction=direction,  # type: ignore[arg-type]
            )
    except InsightError as err:
        session.rollback()
        return _board_page(request, access, session, dashboard_id, error=err)
    url = f"/p/{access.project_id}/dashboards/{dashboard_id}?notice=moved"
    return RedirectResponse(url, status_code=303)


@router.post("/p/{project_id}/dashboards/{dashboard_id}/tiles/{tile_id}/remove")
def unpin(
    dashboard_id: int, tile_id: int, access: AnalystAccessDep, session: SessionDep
) -> Response:
    with found():
        boards.unpin_tile(
            session, project_id=access.project_id, dashboard_id=dashboard_id, tile_id=tile_id
        )
    url = f"/p/{access.project_id}/dashboards/{dashboard_id}?notice=removed"
    return RedirectResponse(url, status_code=303)

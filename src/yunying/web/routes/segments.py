"""Segments (用户分群) in the console: the list, the builder (with a live count), a
segment's members, history and CSV, static lists from CSV uploads or a funnel step.

Operators, admins and owners change segments; analysts and viewers only look.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.datastructures import QueryParams

from yunying.analytics.funnels import FunnelQuery, funnel_persons
from yunying.insights.people import list_persons
from yunying.people.segments import service
from yunying.people.segments.errors import NotFound, SegmentError
from yunying.web.access import ProjectAccess
from yunying.web.deps import OperatorAccessDep, ProjectAccessDep, SessionDep, StateDep
from yunying.web.errors import PageError
from yunying.web.forms import FormError, parse_insight
from yunying.web.page_helpers import PLOTLY_JS, found, translator
from yunying.web.segment_view import builder_options, builder_texts, history_figure, summary
from yunying.web.templating import render

router = APIRouter()

PAGE_SIZE = 50
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
MAX_FUNNEL_PERSONS = 1_000_000
EMPTY = {
    "op": "and",
    "conditions": [{"type": "behaviour", "event": "", "window": {"last_days": 30}}],
}
_NOTICES = {
    "created": "segments.notice.created",
    "saved": "segments.notice.saved",
    "refreshed": "segments.notice.refreshed",
    "deleted": "segments.notice.deleted",
    "uploaded": "segments.notice.uploaded",
}


def engine_error(exc: Exception) -> bool:
    """An event-store error on a valid definition (a regex RE2 rejects): the user's to fix."""
    return type(exc).__module__.startswith(("duckdb", "_duckdb", "chdb", "clickhouse"))


def _base(access: ProjectAccess) -> str:
    return f"/p/{access.project_id}/segments"


def _error_message(request: Request, err: SegmentError) -> str:
    t = translator(request)
    return t("segments.error.field", field=err.field, message=err.message)


@router.get("/p/{project_id}/segments")
def segment_list(
    request: Request, access: ProjectAccessDep, session: SessionDep, notice: str = ""
) -> Response:
    return render(
        request,
        "segments/list.html",
        segments=service.list_segments(session=session, project_id=access.project_id),
        notice_key=_NOTICES.get(notice),
    )


def _builder(
    request: Request, access: ProjectAccess, session: Any, *, segment: Any = None,
    definition: Any = None, name: str = "", description: str = "",
    error: SegmentError | None = None,
) -> Response:  # fmt: skip
    t = translator(request)
    segments = service.list_segments(session=session, project_id=access.project_id)
    data = definition if definition is not None else EMPTY
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, indent=2)
    options = builder_options(segments, segment.id if segment else None)
    return render(
        request,
        "segments/builder.html",
        status_code=400 if error else 200,
        segment=segment,
        form_name=name,
        form_description=description,
        definition_json=text,
        builder={"texts": builder_texts(t), "options": options},
        error=error,
        error_message=_error_message(request, error) if error else "",
    )


@router.get("/p/{project_id}/segments/new")
def new_segment(request: Request, access: OperatorAccessDep, session: SessionDep) -> Response:
    return _builder(request, access, session)


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text or "")
    except json.JSONDecodeError as exc:
        raise SegmentError(
            "definition", "invalid_json", f"invalid JSON at line {exc.lineno}: {exc.msg}"
        ) from None


@router.post("/p/{project_id}/segments")
def create(
    request: Request,
    access: OperatorAccessDep,
    session: SessionDep,
    name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    definition: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "dynamic",
) -> Response:
    try:
        segment = service.create_segment(
            session=session, project_id=access.project_id, name=name, description=description,
            kind="static" if kind == "static" else "dynamic",
            definition=None if kind == "static" else _parse_json(definition),
            created_by=access.viewer.user_id,
        )  # fmt: skip
    except SegmentError as err:
        session.rollback()
        if kind == "static":
            return _show(request, access, session, None, error=err, list_error=True)
        return _builder(
            request, access, session, definition=definition, name=name,
            description=description, error=err,
        )  # fmt: skip
    return RedirectResponse(f"{_base(access)}/{segment.id}?notice=created", status_code=303)


@router.post("/p/{project_id}/segments/preview")
def preview(
    request: Request,
    access: ProjectAccessDep,
    session: SessionDep,
    state: StateDep,
    definition: Annotated[str, Form()] = "",
) -> Response:
    """The live count of the builder's draft (an htmx fragment)."""
    result, error = None, None
    try:
        result = service.preview(
            session=session, store=state.store, ctx=access.ctx, definition=_parse_json(definition)
        )
    except SegmentError as err:
        error = err
    except Exception as exc:
        if not engine_error(exc):
            raise
        error = SegmentError("definition", "engine", str(exc).splitlines()[0])
    page = None
    if result is not None and result.sample:
        page = list_persons(state.store, access.ctx, person_ids=result.sample[:10], limit=10)
    return render(
        request,
        "segments/_preview.html",
        result=result,
        persons=page.persons if page else [],
        error=error,
        error_message=_error_message(request, error) if error else "",
    )


@router.post("/p/{project_id}/segments/from-funnel")
def from_funnel(
    request: Request,
    access: OperatorAccessDep,
    session: SessionDep,
    state: StateDep,
    name: Annotated[str, Form()] = "",
    funnel: Annotated[str, Form()] = "",
) -> Response:
    """Save the persons of one funnel step (the people page's parameters) as a static list."""
    params = QueryParams(funnel)
    try:
        parsed = parse_insight("funnel", params, today=access.ctx.today())
        query: FunnelQuery = parsed.query  # type: ignore[assignment]
        raw = str(params.get("funnel_step") or "")
        if not raw.isdigit() or not 1 <= int(raw) <= len(query.steps):
            raise FormError("funnel_step", "integer", min=1, max=len(query.steps))
    except FormError as err:
        raise PageError(400) from err
    ids = funnel_persons(
        state.store, access.ctx, query, int(raw), dropped=params.get("dropped") == "1",
        limit=MAX_FUNNEL_PERSONS, breakdown_value=params.get("breakdown_value"),
    )  # fmt: skip
    try:
        segment = service.create_static_segment(
            session=session, store=state.store, project_id=access.project_id, name=name,
            person_ids=ids, created_by=access.viewer.user_id,
        )  # fmt: skip
    except SegmentError as err:
        session.rollback()
        return _show(request, access, session, None, error=err, list_error=True)
    return RedirectResponse(f"{_base(access)}/{segment.id}?notice=created", status_code=303)


def _get(session: Any, access: ProjectAccess, segment_id: int) -> Any:
    with found():
        return service.get_segment(
            session=session, project_id=access.project_id, segment_id=segment_id
        )


def _show(
    request: Request, access: ProjectAccess, session: Any, segment_id: int | None, *,
    notice: str = "", error: SegmentError | None = None, page: int = 1,
    list_error: bool = False, upload: Any = None,
) -> Response:  # fmt: skip
    if list_error or segment_id is None:
        return render(
            request,
            "segments/list.html",
            status_code=400,
            segments=service.list_segments(session=session, project_id=access.project_id),
            notice_key=None,
            error=error,
            error_message=_error_message(request, error) if error else "",
        )
    state = request.app.state.yunying
    t = translator(request)
    segment = _get(session, access, segment_id)
    members = service.list_members(
        session=session, store=state.store, project_id=access.project_id,
        segment_id=segment.id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
    )  # fmt: skip
    persons = (
        list_persons(state.store, access.ctx, person_ids=members.person_ids, limit=PAGE_SIZE)
        if members.person_ids
        else None
    )
    runs = service.runs(session=session, segment_id=segment.id)
    node = service.definition_of(segment)
    base = f"{_base(access)}/{segment.id}"
    return render(
        request,
        "segments/show.html",
        status_code=400 if error else 200,
        segment=segment,
        summary=summary(node, t) if node is not None else "",
        definition_json=json.dumps(json.loads(segment.definition), ensure_ascii=False, indent=2),
        members=members,
        persons=persons.persons if persons else [],
        runs=list(reversed(runs))[:20],
        history_fig=history_figure(runs, t, access.ctx.timezone) if runs else None,
        changes=service.changes(session=session, segment_id=segment.id, limit=20),
        plotly_js=PLOTLY_JS,
        notice_key=_NOTICES.get(notice),
        error=error,
        error_message=_error_message(request, error) if error else "",
        upload=upload,
        page=page,
        prev_url=f"{base}?page={page - 1}" if page > 1 else None,
        next_url=f"{base}?page={page + 1}" if page * PAGE_SIZE < members.total else None,
    )


@router.get("/p/{project_id}/segments/{segment_id}")
def show(
    request: Request, segment_id: int, access: ProjectAccessDep, session: SessionDep,
    notice: str = "", page: int = 1,
) -> Response:  # fmt: skip
    if not 1 <= page <= 100_000:
        raise PageError(404)
    return _show(request, access, session, segment_id, notice=notice, page=page)


@router.get("/p/{project_id}/segments/{segment_id}/edit")
def edit(
    request: Request, segment_id: int, access: OperatorAccessDep, session: SessionDep
) -> Response:
    segment = _get(session, access, segment_id)
    if segment.kind != "dynamic":
        raise PageError(404)
    return _builder(
        request, access, session, segment=segment, definition=json.loads(segment.definition),
        name=segment.name, description=segment.description,
    )  # fmt: skip


@router.post("/p/{project_id}/segments/{segment_id}")
def update(
    request: Request,
    segment_id: int,
    access: OperatorAccessDep,
    session: SessionDep,
    name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    definition: Annotated[str, Form()] = "",
) -> Response:
    segment = _get(session, access, segment_id)
    try:
        service.update_segment(
            session=session, project_id=access.project_id, segment_id=segment.id, name=name,
            description=description,
            definition=_parse_json(definition) if segment.kind == "dynamic" else None,
        )  # fmt: skip
    except SegmentError as err:
        session.rollback()
        return _builder(
            request, access, session, segment=segment, definition=definition, name=name,
            description=description, error=err,
        )  # fmt: skip
    return RedirectResponse(f"{_base(access)}/{segment.id}?notice=saved", status_code=303)


@router.post("/p/{project_id}/segments/{segment_id}/refresh")
def refresh(
    request: Request, segment_id: int, access: OperatorAccessDep, session: SessionDep,
    state: StateDep,
) -> Response:  # fmt: skip
    segment = _get(session, access, segment_id)
    try:
        service.refresh_segment(
            session=session, store=state.store, ctx=access.ctx, segment_id=segment.id
        )
    except SegmentError as err:
        return _show(request, access, session, segment.id, error=err)
    except Exception as exc:
        if not engine_error(exc):
            raise
        session.rollback()
        err = SegmentError("definition", "engine", str(exc).splitlines()[0])
        return _show(request, access, session, segment.id, error=err)
    return RedirectResponse(f"{_base(access)}/{segment.id}?notice=refreshed", status_code=303)


@router.post("/p/{project_id}/segments/{segment_id}/delete")
def delete(
    request: Request, segment_id: int, access: OperatorAccessDep, session: SessionDep
) -> Response:
    segment = _get(session, access, segment_id)
    try:
        service.delete_segment(session=session, project_id=access.project_id, segment_id=segment.id)
    except SegmentError as err:
        session.rollback()
        return _show(request, access, session, segment.id, error=err)
    return RedirectResponse(f"{_base(access)}?notice=deleted", status_code=303)


@router.post("/p/{project_id}/segments/{segment_id}/upload")
async def upload(
    request: Request,
    segment_id: int,
    access: OperatorAccessDep,
    session: SessionDep,
    state: StateDep,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    segment = _get(session, access, segment_id)
    data = await file.read(MAX_UPLOAD_BYTES + 1) if file is not None else b""
    try:
        if len(data) > MAX_UPLOAD_BYTES:
            raise SegmentError("file", "too_large", f"larger than {MAX_UPLOAD_BYTES} bytes")
        result = service.import_csv(
            session=session, store=state.store, ctx=access.ctx, segment_id=segment.id, data=data
        )
    except SegmentError as err:
        session.rollback()
        return _show(request, access, session, segment.id, error=err)
    return _show(request, access, session, segment.id, notice="uploaded", upload=result)


@router.get("/p/{project_id}/segments/{segment_id}/export.csv")
def export(
    segment_id: int, access: ProjectAccessDep, session: SessionDep, state: StateDep
) -> Response:
    segment = _get(session, access, segment_id)
    lines = list(
        service.export_csv(
            session=session, store=state.store, ctx=access.ctx, segment_id=segment.id
        )
    )
    return StreamingResponse(
        iter(["\ufeff", *lines]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="yunying-segment-{segment.id}.csv"'},
    )


__all__ = ["NotFound", "router"]

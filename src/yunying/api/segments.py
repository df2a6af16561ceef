"""``/api/projects/{id}/segments``: segments (用户分群) over HTTP.

CRUD, a count preview of a draft, refresh, members (paged), CSV export and upload, and the
entered/left history. A bad definition is a 422 whose ``loc`` is the DSL path
(``["body", "definition", "conditions", "0", "count", "value"]``); other bad values are
400 naming the field. Secret-key auth as every ``/api/`` route.
"""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, File, HTTPException, Query, Response, UploadFile
from fastapi.responses import StreamingResponse

from yunying.api.deps import SecretProjectDep, SessionDep, StateDep
from yunying.db.projects import context_for
from yunying.people.segments import service
from yunying.people.segments.errors import NotFound, SegmentError
from yunying.people.segments.schemas import (
    ChangePublic,
    HistoryPublic,
    ImportPublic,
    MembersPublic,
    PreviewPublic,
    PreviewRequest,
    RefreshPublic,
    RunPublic,
    SegmentCreate,
    SegmentPublic,
    SegmentUpdate,
)

router = APIRouter(prefix="/api/projects/{project_id}/segments", tags=["segments"])

MAX_UPLOAD_BYTES = 64 * 1024 * 1024


def _raise(exc: Exception) -> NoReturn:
    if isinstance(exc, NotFound):
        raise HTTPException(404, detail=f"{exc} not found") from None
    if isinstance(exc, SegmentError):
        if exc.field.startswith("definition"):
            detail = [
                {"loc": ["body", *path.split(".")], "msg": msg, "type": exc.code}
                for path, msg in exc.problems
            ]
            raise HTTPException(422, detail=detail) from None
        raise HTTPException(400, detail=str(exc)) from None
    raise exc


def _store_error(exc: Exception) -> NoReturn:
    """An engine error on a valid definition (say a regex RE2 rejects) is the user's to
    fix: 400. Anything else is a bug and propagates."""
    if type(exc).__module__.startswith(("duckdb", "_duckdb", "chdb", "clickhouse_connect")):
        raise HTTPException(400, detail=f"definition: the event store rejected it: {exc}") from None
    raise exc


@router.get("", response_model=list[SegmentPublic], summary="List segments")
def list_segments(project: SecretProjectDep, session: SessionDep) -> list[SegmentPublic]:
    return [
        SegmentPublic.of(s) for s in service.list_segments(session=session, project_id=project.id)
    ]


@router.post("", response_model=SegmentPublic, status_code=201, summary="Create a segment")
def create_segment(
    body: SegmentCreate, project: SecretProjectDep, session: SessionDep
) -> SegmentPublic:
    try:
        segment = service.create_segment(
            session=session,
            project_id=project.id,
            name=body.name,
            description=body.description,
            kind=body.kind,
            definition=body.definition,
        )
    except (SegmentError, NotFound) as exc:
        _raise(exc)
    return SegmentPublic.of(segment)


@router.post("/preview", response_model=PreviewPublic, summary="Count a draft definition")
def preview(
    body: PreviewRequest, project: SecretProjectDep, session: SessionDep, state: StateDep
) -> PreviewPublic:
    try:
        node = service.parse(body.definition)
        result = service.preview(
            session=session, store=state.store, ctx=context_for(project), definition=node,
            sample=body.sample,
        )  # fmt: skip
    except (SegmentError, NotFound) as exc:
        _raise(exc)
    except Exception as exc:
        _store_error(exc)
    return PreviewPublic(count=result.count, sample=result.sample)


def _get(session: Any, project_id: int, segment_id: int) -> Any:
    try:
        return service.get_segment(session=session, project_id=project_id, segment_id=segment_id)
    except NotFound as exc:
        _raise(exc)


@router.get("/{segment_id}", response_model=SegmentPublic, summary="One segment")
def get_segment(segment_id: int, project: SecretProjectDep, session: SessionDep) -> SegmentPublic:
    return SegmentPublic.of(_get(session, project.id, segment_id))


@router.patch("/{segment_id}", response_model=SegmentPublic, summary="Update a segment")
def update_segment(
    segment_id: int, body: SegmentUpdate, project: SecretProjectDep, session: SessionDep
) -> SegmentPublic:
    try:
        segment = service.update_segment(
            session=session, project_id=project.id, segment_id=segment_id, name=body.name,
            description=body.description, definition=body.definition,
        )  # fmt: skip
    except (SegmentError, NotFound) as exc:
        _raise(exc)
    return SegmentPublic.of(segment)


@router.delete("/{segment_id}", status_code=204, summary="Delete a segment")
def delete_segment(segment_id: int, project: SecretProjectDep, session: SessionDep) -> Response:
    try:
        service.delete_segment(session=session, project_id=project.id, segment_id=segment_id)
    except (SegmentError, NotFound) as exc:
        _raise(exc)
    return Response(status_code=204)


@router.post("/{segment_id}/refresh", response_model=RefreshPublic, summary="Refresh now")
def refresh(
    segment_id: int, project: SecretProjectDep, session: SessionDep, state: StateDep
) -> RefreshPublic:
    try:
        r = service.refresh_segment(
            session=session, store=state.store, ctx=context_for(project), segment_id=segment_id
        )
    except (SegmentError, NotFound) as exc:
        _raise(exc)
    except Exception as exc:
        _store_error(exc)
    return RefreshPublic(**r.__dict__)


@router.get("/{segment_id}/members", response_model=MembersPublic, summary="Members (paged)")
def members(
    segment_id: int,
    project: SecretProjectDep,
    session: SessionDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> MembersPublic:
    try:
        page = service.list_members(
            session=session, store=state.store, project_id=project.id, segment_id=segment_id,
            limit=limit, offset=offset,
        )  # fmt: skip
    except NotFound as exc:
        _raise(exc)
    return MembersPublic(**page.__dict__)


@router.get("/{segment_id}/export", summary="Members as CSV (person_id, distinct_ids)")
def export(
    segment_id: int, project: SecretProjectDep, session: SessionDep, state: StateDep
) -> StreamingResponse:
    try:
        lines = list(
            service.export_csv(
                session=session, store=state.store, ctx=context_for(project), segment_id=segment_id
            )
        )
    except NotFound as exc:
        _raise(exc)
    return StreamingResponse(
        iter(lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="segment-{segment_id}.csv"'},
    )


@router.post("/{segment_id}/upload", response_model=ImportPublic, summary="Upload a CSV list")
async def upload(
    segment_id: int,
    project: SecretProjectDep,
    session: SessionDep,
    state: StateDep,
    file: Annotated[UploadFile, File(description="CSV with a person_id or distinct_id column.")],
) -> ImportPublic:
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, detail=f"file: larger than {MAX_UPLOAD_BYTES} bytes")
    try:
        result = service.import_csv(
            session=session, store=state.store, ctx=context_for(project), segment_id=segment_id,
            data=data,
        )  # fmt: skip
    except (SegmentError, NotFound) as exc:
        _raise(exc)
    return ImportPublic(
        column=result.column,
        rows=result.rows,
        matched=result.matched,
        unknown=result.unknown,
        unknown_count=result.unknown_count,
        refresh=RefreshPublic(**result.refresh.__dict__),
    )


@router.get("/{segment_id}/history", response_model=HistoryPublic, summary="Entered/left history")
def history(
    segment_id: int,
    project: SecretProjectDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 100,
    person_id: Annotated[str | None, Query(max_length=200)] = None,
) -> HistoryPublic:
    segment = _get(session, project.id, segment_id)
    return HistoryPublic(
        runs=[RunPublic.of(r) for r in service.runs(session=session, segment_id=segment.id)],
        changes=[
            ChangePublic.of(c)
            for c in service.changes(
                session=session, segment_id=segment.id, limit=limit, person_id=person_id
            )
        ],
    )

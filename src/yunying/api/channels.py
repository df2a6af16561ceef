"""``/api/projects/{id}/channels…``: the channel report, a channel's new persons, costs.

- ``GET  /channels``: the report (first or last touch, date range, activation, revenue
  window), with CAC and ROI when costs were imported.
- ``GET  /channels/persons``: the new persons of the range with their channel.
- ``POST /channels/costs``: import costs — a CSV file (multipart field ``file``), a CSV
  body (``text/csv``) or JSON ``{"rows": [{"date", "channel", "cost", "currency"?}]}``.
  All or nothing: a bad row gives 422 with every problem as ``{row, field, message}``.
- ``GET  /channels/costs`` (JSON, or ``?format=csv`` in the import format) and
  ``DELETE /channels/costs`` for a range.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from yunying.api.deps import SecretProjectDep, SessionDep, StateDep
from yunying.db.projects import context_for
from yunying.people import channel_costs as costs_svc
from yunying.people.channels import (
    ChannelQuery,
    ChannelReport,
    PersonChannel,
    channel_report,
    new_person_channels,
)

router = APIRouter(prefix="/api/projects/{project_id}/channels", tags=["channels"])

ModelParam = Annotated[
    Literal["first_touch", "last_touch"], Query(description="Attribution model.")
]
FromParam = Annotated[date | None, Query(description="First local day (default: 30 days ago).")]
ToParam = Annotated[date | None, Query(description="Last local day (default: today).")]


class CostsPublic(BaseModel):
    rows: list[costs_svc.CostRow]
    total: float


class Deleted(BaseModel):
    deleted: int


def _unprocessable(errors: list[dict[str, Any]]) -> HTTPException:
    return HTTPException(422, detail=errors)


def _query(**fields: Any) -> ChannelQuery:
    """A ChannelQuery from query parameters; 422 naming the parameter when one is bad."""
    dates = {k: fields.pop(k) for k in ("date_from", "date_to")}
    try:
        return ChannelQuery.model_validate(
            {**{k: v for k, v in fields.items() if v is not None}, "date_range": dates}
        )
    except ValidationError as exc:
        raise _unprocessable(
            [
                {
                    "loc": [
                        "query",
                        *([p for p in e["loc"] if p != "date_range"] or ["date_from"]),
                    ],
                    "msg": e["msg"],
                    "type": e["type"],
                }
                for e in exc.errors()
            ]
        ) from None


@router.get("", response_model=ChannelReport, summary="Channel report")
def get_report(
    project: SecretProjectDep,
    state: StateDep,
    session: SessionDep,
    model: ModelParam = "first_touch",
    date_from: FromParam = None,
    date_to: ToParam = None,
    activation_event: Annotated[str | None, Query(max_length=400)] = None,
    activation_days: Annotated[int, Query(ge=1, le=365)] = 7,
    conversion_event: Annotated[str | None, Query(max_length=400)] = None,
    revenue_days: Annotated[int | None, Query(ge=1, le=3650)] = None,
    interval: Annotated[Literal["day", "week", "month"], Query()] = "day",
) -> Response:
    """Per channel: new persons, activation, D1/D7/D30 retention, paying, revenue, ARPU,
    and cost, CAC and ROI when costs were imported. See docs/channels.md."""
    q = _query(
        model=model,
        date_from=date_from,
        date_to=date_to,
        activation_event=activation_event,
        activation_days=activation_days,
        conversion_event=conversion_event,
        revenue_days=revenue_days,
        interval=interval,
    )
    try:
        report = channel_report(
            session=session, store=state.store, ctx=context_for(project), query=q
        )
    except ValueError as exc:  # a date_from after today with date_to left out
        raise _unprocessable([{"loc": ["query", "date_from"], "msg": str(exc)}]) from exc
    return Response(report.model_dump_json(), media_type="application/json")


@router.get("/persons", response_model=list[PersonChannel], summary="New persons by channel")
def get_persons(
    project: SecretProjectDep,
    state: StateDep,
    channel: Annotated[str | None, Query(max_length=200)] = None,
    model: ModelParam = "first_touch",
    date_from: FromParam = None,
    date_to: ToParam = None,
    conversion_event: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[PersonChannel]:
    """The persons first seen in the range with their channel (one channel if given)."""
    q = _query(model=model, date_from=date_from, date_to=date_to, conversion_event=conversion_event)
    try:
        return new_person_channels(
            state.store, context_for(project), q, channel=channel, limit=limit
        )
    except ValueError as exc:
        raise _unprocessable([{"loc": ["query", "date_from"], "msg": str(exc)}]) from exc


def _import_error(exc: costs_svc.CostImportError) -> HTTPException:
    return _unprocessable([e.model_dump() for e in exc.errors])


@router.post(
    "/costs",
    response_model=costs_svc.ImportResult,
    summary="Import channel costs (CSV upload, CSV body or JSON rows)",
    responses={422: {"description": "Bad rows: every problem with its row and field."}},
)
async def post_costs(
    request: Request, project: SecretProjectDep, session: SessionDep
) -> costs_svc.ImportResult:
    """Upsert costs per (day, channel): importing the same rows again changes nothing."""
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("multipart/form-data"):
            form = await request.form()
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise _unprocessable(
                    [{"row": 0, "field": "file", "message": "send the CSV as form field 'file'"}]
                )
            data = await upload.read(costs_svc.MAX_BYTES + 1)
            return costs_svc.import_csv(session, project.id, data)
        if content_type.startswith(("text/csv", "text/plain")):
            body = await request.body()
            return costs_svc.import_csv(session, project.id, body)
        try:
            payload = await request.json()
        except ValueError:
            raise _unprocessable(
                [{"row": 0, "field": "body", "message": "not JSON, CSV or a multipart upload"}]
            ) from None
        rows = payload.get("rows") if isinstance(payload, dict) else None
        if not isinstance(rows, list):
            raise _unprocessable(
                [{"row": 0, "field": "rows", "message": "must be a list of cost rows"}]
            )
        return costs_svc.import_rows(session, project.id, rows)
    except costs_svc.CostImportError as exc:
        session.rollback()
        raise _import_error(exc) from exc


@router.get("/costs", response_model=CostsPublic, summary="List imported costs")
def get_costs(
    project: SecretProjectDep,
    session: SessionDep,
    date_from: Annotated[date | None, Query()] = None,
    date_to: Annotated[date | None, Query()] = None,
    channel: Annotated[str | None, Query(max_length=200)] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    if date_from and date_to and date_from > date_to:
        raise _unprocessable(
            [{"loc": ["query", "date_from"], "msg": "date_from must not be after date_to"}]
        )
    rows = costs_svc.list_costs(
        session, project.id, date_from=date_from, date_to=date_to, channel=channel
    )
    if format == "csv":
        return Response(costs_svc.costs_csv(rows), media_type="text/csv; charset=utf-8")
    body = CostsPublic(rows=rows, total=sum(r.cost for r in rows))
    return Response(body.model_dump_json(), media_type="application/json")


@router.delete("/costs", response_model=Deleted, summary="Delete imported costs of a range")
def delete_costs(
    project: SecretProjectDep,
    session: SessionDep,
    date_from: Annotated[date, Query()],
    date_to: Annotated[date, Query()],
    channel: Annotated[str | None, Query(max_length=200)] = None,
) -> Deleted:
    if date_from > date_to:
        raise _unprocessable(
            [{"loc": ["query", "date_from"], "msg": "date_from must not be after date_to"}]
        )
    n = costs_svc.delete_costs(
        session, project.id, date_from=date_from, date_to=date_to, channel=channel
    )
    return Deleted(deleted=n)

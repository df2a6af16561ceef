"""Channels (渠道运营): the channel table and charts, its CSV, a channel's new persons, and
the cost upload (operators and above; viewers only look).

The page is a GET form (shareable URL): attribution model, date range, chart interval,
and for last touch the conversion event. ``/export.csv`` with the same parameters is the
table as CSV; ``/people`` lists one channel's new persons.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from yunying.people import channel_costs as costs_svc
from yunying.people.channels import ChannelQuery, ChannelReport, channel_report, new_person_channels
from yunying.web import channel_charts as cc
from yunying.web.access import ProjectAccess
from yunying.web.deps import OperatorAccessDep, ProjectAccessDep, SessionDep, StateDep
from yunying.web.form_state import FormState, query_string
from yunying.web.forms import FormError
from yunying.web.page_helpers import PLOTLY_JS, csv_response, log, translator
from yunying.web.templating import render

router = APIRouter()

RANGES = (7, 30, 90)
DEFAULT_DAYS = 30
MODELS = ("first_touch", "last_touch")
INTERVALS = ("day", "week", "month")
PEOPLE_LIMIT = 200
_NOTICES = {"imported": "channels.costs.imported"}
# The page's own parameters, carried through the upload form back to the page.
KEEP = ("model", "range", "date_from", "date_to", "interval", "conversion_event", "revenue_days")


@dataclass
class Parsed:
    query: ChannelQuery
    days: int | None  # the preset range, None for custom dates


def _value(params: Any, name: str) -> str:
    values = params.getlist(name)
    return str(values[-1]).strip() if values else ""


def _date(params: Any, name: str) -> date | None:
    raw = _value(params, name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise FormError(name, "date") from None


def parse(params: Any, today: date) -> Parsed:
    """The page's parameters → a ChannelQuery; FormError naming the bad field."""
    model = _value(params, "model") or "first_touch"
    if model not in MODELS:
        raise FormError("model", "choice")
    interval = _value(params, "interval") or "day"
    if interval not in INTERVALS:
        raise FormError("interval", "choice")
    preset = _value(params, "range")
    days: int | None = None
    if preset and preset != "custom":
        raw = preset.removesuffix("d")
        if not raw.isdigit() or int(raw) not in RANGES:
            raise FormError("range", "choice")
        days = int(raw)
    d_from, d_to = _date(params, "date_from"), _date(params, "date_to")
    if days is None and not (d_from or d_to):
        days = DEFAULT_DAYS
    if days is not None:
        d_to = today - timedelta(days=1)  # complete days only: today is still running
        d_from = d_to - timedelta(days=days - 1)
    else:
        d_to = d_to or today
        d_from = d_from or d_to - timedelta(days=DEFAULT_DAYS - 1)
        if d_from > d_to:
            raise FormError("date_from", "date_order")
    conversion = _value(params, "conversion_event") or None
    if conversion and len(conversion) > 400:
        raise FormError("conversion_event", "too_long")
    raw_days = _value(params, "revenue_days")
    revenue_days = None
    if raw_days:
        if not raw_days.isdigit() or not 1 <= int(raw_days) <= 3650:
            raise FormError("revenue_days", "integer", min=1, max=3650)
        revenue_days = int(raw_days)
    query = ChannelQuery.model_validate(
        {
            "model": model,
            "date_range": {"date_from": d_from, "date_to": d_to},
            "conversion_event": conversion,
            "revenue_days": revenue_days,
            "interval": interval,
        }
    )
    return Parsed(query, days)


def error_message(t: Any, err: FormError) -> str:
    params = dict(getattr(err, "params", {}) or {})
    return t(f"insights.error.{err.code}", field=t(f"channels.field.{err.field}"), **params)


def _people_link(access: ProjectAccess, form: FormState) -> Any:
    keep = form.query_string(drop=("channel", "notice"))

    def link(channel: str) -> str:
        extra = query_string([("channel", channel)])
        return f"/p/{access.project_id}/channels/people?{keep}{'&' if keep else ''}{extra}"

    return link


def _page(
    request: Request,
    access: ProjectAccess,
    session: Any,
    state: Any,
    *,
    upload_errors: list[costs_svc.RowError] | None = None,
    upload_error: str = "",
) -> Response:
    t = translator(request)
    params = request.query_params
    form = FormState.of(params)
    today = access.ctx.today()
    error: FormError | None = None
    report: ChannelReport | None = None
    try:
        parsed = parse(params, today)
    except FormError as err:
        error, parsed = err, parse(_Empty(), today)
    try:
        report = channel_report(
            session=session, store=state.store, ctx=access.ctx, query=parsed.query
        )
    except ValueError as exc:
        log.info("channel report rejected: %s", exc)
        error = error or FormError("date_from", "date_order")
    costs = costs_svc.list_costs(
        session,
        access.project_id,
        date_from=parsed.query.date_range.date_from,
        date_to=parsed.query.date_range.date_to,
    )
    figures: dict[str, Any] = {}
    table = None
    if report is not None:
        table = cc.channel_table(report, t, _people_link(access, form))
        figures["new"] = cc.new_persons_figure(report, t)
        if report.has_costs:
            figures["cac"] = cc.cac_retention_figure(report, t)
            figures["roi"] = cc.roi_figure(report, t)
        else:
            figures["retention"] = cc.retention_figure(report, t)
    status = 400 if error or upload_errors or upload_error else 200
    notice_key = _NOTICES.get(_value(params, "notice"), "")
    return render(
        request,
        "channels/index.html",
        status_code=status,
        form=form,
        error=error,
        error_message=error_message(t, error) if error else "",
        report=report,
        table=table,
        figures=figures,
        days=parsed.days,
        ranges=RANGES,
        models=MODELS,
        intervals=INTERVALS,
        costs=costs,
        costs_total=sum(c.cost for c in costs),
        upload_errors=upload_errors or [],
        upload_error=upload_error,
        notice_key=notice_key,
        notice_params={k: _value(params, k) for k in ("n", "updated", "inserted")},
        export_url=f"/p/{access.project_id}/channels/export.csv"
        + (f"?{form.query_string(drop=('notice',))}" if form.pairs else ""),
        plotly_js=PLOTLY_JS,
        can_upload=access.can("operator"),
    )


class _Empty:
    """No parameters: the defaults (used to still show a page after a bad field)."""

    def getlist(self, name: str) -> list[str]:
        return []


@router.get("/p/{project_id}/channels")
def channels_page(
    request: Request, access: ProjectAccessDep, session: SessionDep, state: StateDep
) -> Response:
    return _page(request, access, session, state)


@router.get("/p/{project_id}/channels/export.csv")
def channels_csv(
    request: Request, access: ProjectAccessDep, session: SessionDep, state: StateDep
) -> Response:
    t = translator(request)
    today = access.ctx.today()
    try:
        parsed = parse(request.query_params, today)
        report = channel_report(
            session=session, store=state.store, ctx=access.ctx, query=parsed.query
        )
    except (FormError, ValueError):
        return RedirectResponse(
            f"/p/{access.project_id}/channels?{request.url.query}", status_code=303
        )
    return csv_response(cc.channel_table(report, t), "channels", today)


@router.get("/p/{project_id}/channels/costs.csv")
def costs_csv(access: ProjectAccessDep, session: SessionDep) -> Response:
    rows = costs_svc.list_costs(session, access.project_id)
    filename = f"yunying-channel-costs-{access.ctx.today().isoformat()}.csv"
    return Response(
        costs_svc.costs_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/p/{project_id}/channels/people")
def channel_people(request: Request, access: ProjectAccessDep, state: StateDep) -> Response:
    """The new persons one channel brought in the page's range (first PEOPLE_LIMIT)."""
    from yunying.insights.people import list_persons
    from yunying.web.routes.people import PAGE_SIZE, _listing

    params = request.query_params
    form = FormState.of(params)
    channel = _value(params, "channel")
    try:
        if not channel:
            raise FormError("channel", "required")
        parsed = parse(params, access.ctx.today())
    except FormError as err:
        return _listing(request, page=None, form=form, error=err, number=1,
                        title="channels.people.title",
                        message=error_message(translator(request), err))  # fmt: skip
    found = new_person_channels(
        state.store, access.ctx, parsed.query, channel=channel, limit=PEOPLE_LIMIT
    )
    page = list_persons(
        state.store, access.ctx, person_ids=[p.person_id for p in found], limit=PAGE_SIZE * 4
    )
    back = f"/p/{access.project_id}/channels?" + form.query_string(drop=("channel",))
    return _listing(
        request, page=page, form=form, error=None, number=1, title="channels.people.title",
        channel={"name": cc.channel_label(channel, translator(request)), "back": back,
                 "model": parsed.query.model, "limited": len(found) >= PEOPLE_LIMIT},
    )  # fmt: skip


@router.post("/p/{project_id}/channels/costs")
async def upload_costs(
    request: Request, access: OperatorAccessDep, session: SessionDep, state: StateDep
) -> Response:
    """Import a cost CSV (operator+). All or nothing; errors are listed by row and field."""
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(request, access, session, state, upload_error="channels.costs.no_file")
    data = await upload.read(costs_svc.MAX_BYTES + 1)
    try:
        result = costs_svc.import_csv(session, access.project_id, data)
    except costs_svc.CostImportError as exc:
        session.rollback()
        return _page(request, access, session, state, upload_errors=exc.errors)
    keep = query_string((k, v) for k in KEEP if isinstance(v := form.get(k), str) and v.strip())
    extra = query_string(
        [("notice", "imported"), ("n", str(result.rows)), ("inserted", str(result.inserted)),
         ("updated", str(result.updated))]
    )  # fmt: skip
    sep = "&" if keep else ""
    return RedirectResponse(f"/p/{access.project_id}/channels?{keep}{sep}{extra}", status_code=303)

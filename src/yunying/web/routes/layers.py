"""Console: user layers (用户分层) — RFM groups, activity layers, the transition matrix,
the persons of a layer or group, and the settings. Everyone in the project reads;
operators and above change the settings and run compute-and-publish."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from yunying.insights.people import list_persons
from yunying.people import layer_service as service
from yunying.people.layer_settings import GROUP_KEYS, LAYERS, ActivitySettings, RfmSettings
from yunying.people.transitions import layers_at_snapshot
from yunying.web.deps import OperatorAccessDep, ProjectAccessDep, SessionDep, StateDep
from yunying.web.layer_charts import layers_figure, rfm_figure, transitions_figure
from yunying.web.page_helpers import PLOTLY_JS, translator
from yunying.web.templating import render

router = APIRouter()

PAGE_SIZE = 50
_NOTICES = {"saved": "layers.notice.saved", "computed": "layers.notice.computed"}
ACTIVITY_FIELDS = tuple(ActivitySettings.model_fields)
RFM_FIELDS = tuple(RfmSettings.model_fields)
LIST_FIELDS = ("events", "recency_thresholds", "frequency_thresholds", "monetary_thresholds")


class LayersFormError(ValueError):
    """A bad form or query value; ``field`` is its form name (``activity.core_min_days``)."""

    def __init__(self, field: str, message_key: str = "layers.error.invalid") -> None:
        super().__init__(field)
        self.field = field
        self.message_key = message_key


def _field_label(t: Any, field: str) -> str:
    return t(f"layers.field.{field}")


def _error_text(t: Any, err: LayersFormError) -> str:
    return t(err.message_key, field=_field_label(t, err.field))


def _parse_day(raw: str | None, today: date, field: str = "as_of") -> date:
    if not raw:
        return today
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise LayersFormError(field, "layers.error.date") from None
    if day > today:
        raise LayersFormError(field, "layers.error.date")
    return day


def _query(request: Request, today: date) -> tuple[date, str]:
    params = request.query_params
    day = _parse_day(params.get("as_of"), today)
    period = params.get("period") or "week"
    if period not in ("week", "month"):
        raise LayersFormError("period", "layers.error.choice")
    return day, period


def _rules(s: ActivitySettings) -> dict[str, dict[str, int]]:
    """Parameters of each layer's rule sentence (``layers.rule.<key>``)."""
    return {
        "recalled": {"lookback": s.recall_lookback_days, "active": s.active_days},
        "core": {"min": s.core_min_days, "window": s.core_window_days},
        "active": {"active": s.active_days},
        "churn_risk": {"quiet": s.risk_inactive_days, "min": s.risk_min_days,
                       "prior": s.risk_prior_days},
        "silent": {"active": s.active_days, "churned": s.churned_days},
        "churned": {"churned": s.churned_days},
    }  # fmt: skip


def _form_values(settings: Any) -> dict[str, str]:
    """The settings as form field values (lists comma-separated)."""
    out: dict[str, str] = {}
    for part in ("activity", "rfm"):
        for name, value in getattr(settings, part).model_dump().items():
            if isinstance(value, list):
                value = ", ".join(_plain(v) for v in value)
            out[f"{part}.{name}"] = "" if value is None else _plain(value)
    return out


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _page(
    request: Request, access: Any, session: Any, state: Any, *, status_code: int = 200,
    message: str | None = None, params: dict[str, Any] | None = None,
    error: LayersFormError | None = None, form: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    t = translator(request)
    today = access.ctx.today()
    query_error = None
    try:
        day, period = _query(request, today)
    except LayersFormError as err:
        query_error = err
        day, period = today, "week"
    settings = service.settings_for(session, access.project_id)
    store, ctx = state.store, access.ctx
    rfm = service.rfm_summary(session=session, store=store, ctx=ctx, as_of=day)
    moves = service.transitions(session=session, store=store, ctx=ctx, period=period, day=day)  # type: ignore[arg-type]
    if moves.to_date == day:  # the matrix's "to" snapshot is the day shown: no second query
        layers = layers_at_snapshot(moves)
    else:
        layers = service.layers_summary(session=session, store=store, ctx=ctx, as_of=day)
    error = error or query_error
    return render(
        request,
        "layers/index.html",
        status_code=400 if query_error else status_code,
        day=day,
        today=today,
        period=period,
        rfm=rfm,
        layers=layers,
        moves=moves,
        shares={(c.source, c.target): c for c in moves.cells},
        rules=_rules(settings.activity),
        settings=settings,
        form=form or _form_values(settings),
        figures={
            "rfm": rfm_figure(rfm, t) if rfm.buyers else None,
            "layers": layers_figure(layers, t) if layers.persons else None,
            "moves": transitions_figure(moves, t) if moves.persons else None,
        },
        message=message,
        message_params=params or {},
        error=error,
        error_text=_error_text(t, error) if error else "",
        can_edit=access.can("operator"),
        plotly_js=PLOTLY_JS,
    )


@router.get("/p/{project_id}/layers")
def layers_page(
    request: Request, access: ProjectAccessDep, session: SessionDep, state: StateDep,
    notice: str = "", persons: int = 0, buyers: int = 0,
) -> Response:  # fmt: skip
    params = {"persons": persons, "buyers": buyers}
    return _page(request, access, session, state, message=_NOTICES.get(notice), params=params)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def parse_settings(form: FormData) -> dict[str, Any]:
    """The settings form → a settings document; validated by ``update_settings``."""
    doc: dict[str, dict[str, Any]] = {"activity": {}, "rfm": {}}
    for part, fields in (("activity", ACTIVITY_FIELDS), ("rfm", RFM_FIELDS)):
        for name in fields:
            raw = _text(form, f"{part}.{name}")
            if name in LIST_FIELDS:
                doc[part][name] = [x.strip() for x in raw.split(",") if x.strip()]
            elif name == "revenue_property":
                doc[part][name] = raw or None
            elif raw:
                doc[part][name] = raw
    return doc


def _from_validation(exc: ValidationError) -> LayersFormError:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"] if not isinstance(p, int)]
    part = loc[0] if loc and loc[0] in ("activity", "rfm") else "activity"
    fields = ACTIVITY_FIELDS if part == "activity" else RFM_FIELDS
    named = [p for p in loc[1:] if p in fields]
    if named:
        key = (
            "layers.error.ascending" if named[0].endswith("_thresholds") else "layers.error.invalid"
        )
        return LayersFormError(f"{part}.{named[0]}", key)
    msg = str(err.get("msg", ""))  # a model-level check: the first field its message names
    hits = sorted((msg.find(f), f) for f in fields if f in msg)
    field = hits[0][1] if hits else fields[0]
    return LayersFormError(f"{part}.{field}", "layers.error.consistency")


@router.post("/p/{project_id}/layers/settings")
async def save_settings(
    request: Request, access: OperatorAccessDep, session: SessionDep, state: StateDep
) -> Response:
    form = await request.form()
    try:
        service.update_settings(
            session=session,
            project_id=access.project_id,
            data=parse_settings(form),
            user_id=access.viewer.user_id,
        )
    except ValidationError as exc:
        session.rollback()
        values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
        return _page(request, access, session, state, status_code=400,
                     error=_from_validation(exc), form=values)  # fmt: skip
    return RedirectResponse(f"/p/{access.project_id}/layers?notice=saved", status_code=303)


@router.post("/p/{project_id}/layers/compute")
def compute(
    request: Request, access: OperatorAccessDep, session: SessionDep, state: StateDep
) -> Response:
    report = service.compute_and_publish(
        store=state.store, ctx=access.ctx, settings=service.settings_for(session, access.project_id)
    )
    return RedirectResponse(
        f"/p/{access.project_id}/layers?notice=computed&persons={report.layers.persons}"
        f"&buyers={report.rfm.buyers}",
        status_code=303,
    )


@router.get("/p/{project_id}/layers/persons")
def layer_persons(
    request: Request, access: ProjectAccessDep, session: SessionDep, state: StateDep
) -> Response:
    """The persons of one activity layer (``kind=layer``) or RFM group (``kind=rfm``)."""
    t = translator(request)
    params = request.query_params
    today = access.ctx.today()
    kind, key = params.get("kind") or "layer", params.get("key") or ""
    try:
        day = _parse_day(params.get("as_of"), today)
        if kind not in ("layer", "rfm"):
            raise LayersFormError("kind", "layers.error.choice")
        if key not in (LAYERS if kind == "layer" else GROUP_KEYS):
            raise LayersFormError("key", "layers.error.choice")
        raw_page = params.get("page") or "1"
        if not raw_page.isdigit() or not 1 <= int(raw_page) <= 100_000:
            raise LayersFormError("page")
        number = int(raw_page)
    except LayersFormError as err:
        return render(request, "layers/persons.html", status_code=400, error=err,
                      error_text=_error_text(t, err), page=None, rows=[], day=today)  # fmt: skip
    offset = (number - 1) * PAGE_SIZE
    ctx, store = access.ctx, state.store
    common: dict[str, Any] = {"session": session, "store": store, "ctx": ctx, "as_of": day}
    if kind == "layer":
        page: Any = service.layer_persons_page(**common, layer=key, limit=PAGE_SIZE, offset=offset)
    else:
        page = service.group_persons(**common, group=key, limit=PAGE_SIZE, offset=offset)
    ids = [p.person_id for p in page.persons]
    names = {
        p.id: p.name for p in list_persons(store, ctx, person_ids=ids, limit=PAGE_SIZE).persons
    }
    base = f"/p/{access.project_id}/layers/persons?kind={kind}&key={key}&as_of={day.isoformat()}"
    title_key = "layers.persons.title_layer" if kind == "layer" else "layers.persons.title_group"
    return render(
        request,
        "layers/persons.html",
        error=None,
        error_text="",
        kind=kind,
        key=key,
        title=t(title_key, name=t(f"layers.{'layer' if kind == 'layer' else 'group'}.{key}")),
        page=page,
        rows=[(p, names.get(p.person_id, p.person_id)) for p in page.persons],
        day=day,
        number=number,
        prev_url=f"{base}&page={number - 1}" if number > 1 else None,
        next_url=f"{base}&page={number + 1}" if offset + len(ids) < page.total else None,
        back=f"/p/{access.project_id}/layers?as_of={day.isoformat()}",
    )

"""Console: churn warning (流失预警) — warning-line rules and counts, the churn model card,
at-risk persons and the BG/NBD card. Everyone in the project reads; operators and above
change rules and settings and run evaluations, training, scoring and fits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from yunying.people import churn_service as svc
from yunying.people.bgnbd import BgNbdError
from yunying.people.churn_config import (
    ModelSettings,
    count_history,
    load_config,
    save_rules,
    save_settings,
)
from yunying.people.churn_model import ChurnModelError
from yunying.people.churn_rules import WarningRule, WarningRules
from yunying.store import derived
from yunying.web.churn_charts import (
    histogram_figure,
    importance_figure,
    latest_total,
    warning_trend_figure,
)
from yunying.web.deps import OperatorAccessDep, ProjectAccessDep, SessionDep, StateDep
from yunying.web.page_helpers import translator
from yunying.web.templating import render

router = APIRouter()

AT_RISK_SHOWN = 20
_NOTICES = {
    "rule_saved": "churn.notice.rule_saved",
    "rule_deleted": "churn.notice.rule_deleted",
    "settings_saved": "churn.notice.settings_saved",
    "evaluated": "churn.notice.evaluated",
    "trained": "churn.notice.trained",
    "scored": "churn.notice.scored",
    "fitted": "churn.notice.fitted",
}
RULE_FIELDS = ("key", "name", "inactive_days", "lookback_days", "min_active_days", "events")
SETTINGS_FIELDS = (
    "horizon_days", "population_days", "risk_threshold", "purchase_event", "time_unit",
)  # fmt: skip
FIELD_KEYS = {f: f"churn.field.{f}" for f in (*RULE_FIELDS, *SETTINGS_FIELDS, "rules")}


class ChurnFormError(ValueError):
    def __init__(self, field: str, message_key: str = "churn.error.invalid") -> None:
        super().__init__(field)
        self.field = field
        self.message_key = message_key


def _from_validation(exc: ValidationError, known: tuple[str, ...]) -> ChurnFormError:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"] if not isinstance(p, int)]
    field = next((p for p in reversed(loc) if p in known), "")
    if not field:  # a model-level check: the first field its message names
        msg = str(err.get("msg", ""))
        named = sorted((msg.find(f), f) for f in known if f in msg)
        field = named[0][1] if named else "rules"
    return ChurnFormError(field)


def _page(
    request: Request, access: Any, session: Any, state: Any, *,
    status_code: int = 200, message: str | None = None, error: ChurnFormError | None = None,
    error_text: str = "", form: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    t = translator(request)
    pid = access.project_id
    config = load_config(session, pid)
    history = count_history(session, pid)
    last_day, last_counts = latest_total(history)
    card = svc.model_card(session=session, project_id=pid)
    warned = derived.latest_run(state.store, pid, svc.WARNING)
    classifier, scoring, bgnbd = card["classifier"], card["scoring"], card["bgnbd"]
    figures = {
        "trend": warning_trend_figure(history, t) if history else None,
        "importance": importance_figure(classifier["top_features"], t) if classifier else None,
        "risk": histogram_figure(scoring["histogram"], t, kind="risk") if scoring else None,
        "alive": histogram_figure(bgnbd["p_alive_histogram"], t, kind="alive") if bgnbd else None,
    }
    at_risk = (
        svc.at_risk_persons(store=state.store, project_id=pid, limit=AT_RISK_SHOWN)
        if scoring
        else []
    )
    if error is not None and not error_text:
        error_text = t(error.message_key, field=t(FIELD_KEYS.get(error.field, "churn.field.rules")))
    return render(
        request,
        "churn/index.html",
        status_code=status_code,
        config=config,
        rules=config.rules.rules,
        settings=config.settings,
        history_days=len({row["as_of"] for row in history}),
        last_day=last_day,
        last_counts=last_counts,
        warned_total=warned.row_count if warned else None,
        classifier=classifier,
        scoring=scoring,
        bgnbd=bgnbd,
        figures=figures,
        at_risk=at_risk,
        message=message,
        error=error,
        error_text=error_text,
        form=form or {},
        can_edit=access.can("operator"),
    )


@router.get("/p/{project_id}/churn")
def churn_page(
    request: Request, access: ProjectAccessDep, session: SessionDep, state: StateDep,
    notice: str = "",
) -> Response:  # fmt: skip
    return _page(request, access, session, state, message=_NOTICES.get(notice))


def _done(project_id: int, notice: str) -> RedirectResponse:
    return RedirectResponse(f"/p/{project_id}/churn?notice={notice}", status_code=303)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def parse_rule(form: FormData) -> WarningRule:
    """The rule form → a rule; a bad value raises ChurnFormError naming the field."""
    data: dict[str, Any] = {f: _text(form, f) for f in ("key", "name")}
    for f in ("inactive_days", "lookback_days", "min_active_days"):
        raw = _text(form, f)
        if not raw.isdigit():
            raise ChurnFormError(f, "churn.error.integer")
        data[f] = int(raw)
    data["events"] = [e.strip() for e in _text(form, "events").split(",") if e.strip()]
    data["enabled"] = form.get("enabled") in ("on", "1", "true")
    try:
        return WarningRule.model_validate(data)
    except ValidationError as exc:
        raise _from_validation(exc, RULE_FIELDS) from None


@router.post("/p/{project_id}/churn/rules")
async def save_rule(
    request: Request, access: OperatorAccessDep, session: SessionDep, state: StateDep
) -> Response:
    """Add a rule, or replace the rule with the same key (its filters are kept)."""
    form = await request.form()
    try:
        rule = parse_rule(form)
        rules = list(load_config(session, access.project_id).rules.rules)
        old = next((r for r in rules if r.key == rule.key), None)
        if old is not None:
            rule = rule.model_copy(update={"filters": old.filters})
            rules = [rule if r.key == rule.key else r for r in rules]
        else:
            rules.append(rule)
        try:
            updated = WarningRules(rules=rules)
        except ValidationError as exc:
            raise ChurnFormError("rules", "churn.error.too_many") from exc
    except ChurnFormError as err:
        values = {k: _text(form, k) for k in RULE_FIELDS}
        values["enabled"] = "on" if form.get("enabled") else ""
        return _page(request, access, session, state, status_code=400, error=err, form=values)
    save_rules(session, access.project_id, updated, user_id=access.viewer.user_id)
    return _done(access.project_id, "rule_saved")


@router.post("/p/{project_id}/churn/rules/{key}/delete")
def delete_rule(key: str, access: OperatorAccessDep, session: SessionDep) -> Response:
    rules = load_config(session, access.project_id).rules.rules
    kept = WarningRules(rules=[r for r in rules if r.key != key])
    save_rules(session, access.project_id, kept, user_id=access.viewer.user_id)
    return _done(access.project_id, "rule_deleted")


@router.post("/p/{project_id}/churn/settings")
async def save_model_settings(
    request: Request, access: OperatorAccessDep, session: SessionDep, state: StateDep
) -> Response:
    form = await request.form()
    data = {f: _text(form, f) for f in SETTINGS_FIELDS}
    try:
        for f in ("horizon_days", "population_days"):
            if not data[f].isdigit():
                raise ChurnFormError(f, "churn.error.integer")
        try:
            settings = ModelSettings.model_validate(data)
        except ValidationError as exc:
            raise _from_validation(exc, SETTINGS_FIELDS) from None
    except ChurnFormError as err:
        return _page(request, access, session, state, status_code=400, error=err, form=data)
    save_settings(session, access.project_id, settings, user_id=access.viewer.user_id)
    return _done(access.project_id, "settings_saved")


@router.post("/p/{project_id}/churn/evaluate")
def evaluate(access: OperatorAccessDep, session: SessionDep, state: StateDep) -> Response:
    svc.evaluate_warning(session=session, store=state.store, ctx=access.ctx)
    return _done(access.project_id, "evaluated")


def _run_failed(
    request: Request, access: Any, session: Any, state: Any, exc: Exception
) -> Response:
    session.rollback()
    t = translator(request)
    text = t("churn.error.run_failed", reason=str(exc))
    return _page(request, access, session, state, status_code=400, error_text=text)


@router.post("/p/{project_id}/churn/train")
def train(
    request: Request, access: OperatorAccessDep, session: SessionDep, state: StateDep
) -> Response:
    try:
        svc.train_model(
            session=session, store=state.store, ctx=access.ctx, data_dir=state.settings.data_dir
        )
        svc.score_persons(
            session=session, store=state.store, ctx=access.ctx, data_dir=state.settings.data_dir
        )
    except ChurnModelError as exc:
        return _run_failed(request, access, session, state, exc)
    return _done(access.project_id, "trained")


@router.post("/p/{project_id}/churn/score")
def score(
    request: Request, access: OperatorAccessDep, session: SessionDep, state: StateDep
) -> Response:
    try:
        svc.score_persons(
            session=session, store=state.store, ctx=access.ctx, data_dir=state.settings.data_dir
        )
    except ChurnModelError as exc:
        return _run_failed(request, access, session, state, exc)
    return _done(access.project_id, "scored")


@router.post("/p/{project_id}/churn/bgnbd")
def fit_bgnbd(
    request: Request, access: OperatorAccessDep, session: SessionDep, state: StateDep
) -> Response:
    try:
        svc.fit_bgnbd(session=session, store=state.store, ctx=access.ctx)
    except BgNbdError as exc:
        return _run_failed(request, access, session, state, exc)
    return _done(access.project_id, "fitted")

"""The landing page ``/p/{id}/overview``: "how are we doing, and where do users drop?".

AARRR figures with their change against the previous period, DAU/WAU/MAU and the top
acquisition channels, for the last N complete days (today is still running, so it would
always look like a drop). The figures come from ``insights.overview``, which calls the
analytics functions ``run_aarrr`` and ``run_active_users``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from yunying.analytics.aarrr import AarrrResult
from yunying.analytics.active_users import Change
from yunying.insights.overview import Overview, cached_overview
from yunying.web import charts, tables
from yunying.web.deps import ProjectAccessDep, StateDep
from yunying.web.forms import FormError
from yunying.web.page_helpers import PLOTLY_JS, error_text, translator
from yunying.web.templating import render

router = APIRouter()

RANGES = (7, 30, 90)
MAX_CHANNELS = 8
_NOT_MEASURABLE = {
    "overview.retention_d1": "overview.not_measurable.1",
    "overview.retention_d7": "overview.not_measurable.7",
    "overview.retention_d30": "overview.not_measurable.30",
}


@dataclass
class Stat:
    key: str  # catalog key of the label; also the data-testid
    value: str
    raw: float | int | None
    change: float | None
    versus: str  # catalog key: what the change compares with
    note: str = ""  # catalog key explaining an empty value


def _delta(value: float | None) -> str:
    return "" if value is None else ("up" if value > 0 else "down" if value < 0 else "")


def aarrr_stats(a: AarrrResult) -> list[Stat]:
    cur, ch = a.current, a.change
    versus = "overview.vs_previous_period"
    stats = [
        Stat("overview.new_persons", tables.number(cur.new_persons), cur.new_persons,
             ch["new_persons"], versus),
        Stat("overview.activation_rate", tables.pct(cur.activation_rate), cur.activation_rate,
             ch["activation_rate"], versus),
        Stat("overview.retention_d1", tables.pct(cur.retention_d1), cur.retention_d1,
             ch["retention_d1"], versus),
        Stat("overview.retention_d7", tables.pct(cur.retention_d7), cur.retention_d7,
             ch["retention_d7"], versus),
        Stat("overview.retention_d30", tables.pct(cur.retention_d30), cur.retention_d30,
             ch["retention_d30"], versus),
        Stat("overview.paying_persons", tables.number(cur.paying_persons), cur.paying_persons,
             ch["paying_persons"], versus),
        Stat("overview.revenue", tables.number(cur.revenue, 2), cur.revenue, ch["revenue"],
             versus),
        Stat("overview.k_factor", tables.number(cur.k_factor, 2), cur.k_factor, ch["k_factor"],
             versus),
    ]  # fmt: skip
    for stat in stats:
        if stat.key in _NOT_MEASURABLE and stat.raw is None:
            # Nobody first seen in the range is N days old yet: say so instead of a bare dash.
            stat.note = _NOT_MEASURABLE[stat.key]
        elif stat.key == "overview.activation_rate" and stat.raw is None and cur.new_persons:
            stat.note = "overview.no_activation_event"
    return stats


def _count(key: str, c: Change, versus: str) -> Stat:
    return Stat(key, tables.number(c.current), c.current, c.change, versus)


def active_stats(o: Overview) -> list[Stat]:
    a = o.active
    return [
        _count("overview.dau", a.dau_change, "overview.vs_day_before"),
        _count("overview.wau", a.wau_change, "overview.vs_week_before"),
        _count("overview.mau", a.mau_change, "overview.vs_month_before"),
        Stat("overview.dau_mau", tables.pct(o.dau_mau_current), o.dau_mau_current,
             o.dau_mau_change, "overview.vs_day_before"),
    ]  # fmt: skip


def channel_rows(a: AarrrResult) -> list[dict[str, object]]:
    """Top channels of the period, with the same channel's new persons the period before."""
    before = {c.channel: c.persons for c in a.previous.new_by_channel}
    total = a.current.new_persons
    rows = []
    for c in a.current.new_by_channel[:MAX_CHANNELS]:
        prev = before.get(c.channel, 0)
        rows.append(
            {
                "channel": c.channel,
                "persons": c.persons,
                "share": tables.pct(c.persons / total if total else None),
                "previous": prev,
                "change": tables.change((c.persons - prev) / prev if prev else None),
                "delta": _delta((c.persons - prev) / prev if prev else None),
            }
        )
    return rows


@router.get("/p/{project_id}/overview")
def overview_page(
    request: Request,
    access: ProjectAccessDep,
    state: StateDep,
    chosen: Annotated[str, Query(alias="range")] = "30",
) -> Response:
    t = translator(request)
    error = None
    days = int(chosen) if chosen.isdigit() and int(chosen) in RANGES else None
    if days is None:
        error, days = FormError("range", "choice"), 30
    today = access.ctx.today()
    date_to = today - timedelta(days=1)
    date_from = date_to - timedelta(days=days - 1)
    o = cached_overview(state.store, access.ctx, date_from=date_from, date_to=date_to, today=today)
    return render(
        request,
        "overview/index.html",
        status_code=400 if error else 200,
        error=error,
        error_message=error_text(t, error) if error else "",
        days=days,
        ranges=RANGES,
        date_from=date_from,
        date_to=date_to,
        ov=o,
        aarrr=aarrr_stats(o.aarrr),
        active=active_stats(o),
        channels=channel_rows(o.aarrr),
        fmt_change=tables.change,
        delta=_delta,
        active_figure=charts.active_users_figure(o.active, t),
        channel_figure=charts.channels_figure(o.aarrr.current.new_by_channel[:MAX_CHANNELS], t),
        empty=o.aarrr.current.active_persons == 0 and o.active.mau_change.current == 0,
        plotly_js=PLOTLY_JS,
    )

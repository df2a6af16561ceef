"""The user-layers service: what the API, CLI, console and job call (one function each).

Each function loads the project's layer settings from the operational store and asks the
event store; summaries are computed at call time for the given as-of date (default: the
project's today), and ``compute_and_publish`` also publishes the per-person values
(``layer:activity``, ``rfm:group``, ``rfm:score``) that segments, profiles and campaigns
read.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from yunying.analytics.context import ProjectContext
from yunying.people.layer_settings import LayerSettings
from yunying.people.layer_store import get_layer_settings, save_layer_settings
from yunying.people.layers import (
    LayerPersonsPage,
    LayersResult,
    layer_persons,
    publish_layers,
    run_layers,
)
from yunying.people.rfm import RfmPersonsPage, RfmResult, publish_rfm, rfm_persons, run_rfm
from yunying.people.transitions import Period, TransitionResult, run_transitions
from yunying.store.base import EventStore


class PublishedRun(BaseModel):
    name: str
    run_id: int
    persons: int


class ComputeReport(BaseModel):
    as_of: date
    rfm: RfmResult
    layers: LayersResult
    runs: list[PublishedRun]
    seconds: float = Field(description="Wall time of the computation and publishing.")


def settings_for(session: Session, project_id: int) -> LayerSettings:
    return get_layer_settings(session, project_id)


def update_settings(
    *, session: Session, project_id: int, data: dict[str, Any], user_id: int | None = None
) -> LayerSettings:
    """Validate and save a settings document (``{"activity": {…}, "rfm": {…}}``); a part or
    field left out keeps its current value. Raises pydantic's ValidationError naming the
    field."""
    current = get_layer_settings(session, project_id).model_dump()
    merged: dict[str, Any] = dict(current)
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(current.get(key), dict):
            merged[key] = {**current[key], **value}
        elif value is not None:
            merged[key] = value
    settings = LayerSettings.model_validate(merged)
    return save_layer_settings(session, project_id, settings, user_id=user_id)


def rfm_summary(
    *, session: Session, store: EventStore, ctx: ProjectContext, as_of: date | None = None
) -> RfmResult:
    s = get_layer_settings(session, ctx.project_id)
    return run_rfm(store, ctx, s.rfm, as_of or ctx.today())


def layers_summary(
    *, session: Session, store: EventStore, ctx: ProjectContext, as_of: date | None = None
) -> LayersResult:
    s = get_layer_settings(session, ctx.project_id)
    return run_layers(store, ctx, s.activity, as_of or ctx.today())


def transitions(
    *,
    session: Session,
    store: EventStore,
    ctx: ProjectContext,
    period: Period = "week",
    day: date | None = None,
) -> TransitionResult:
    s = get_layer_settings(session, ctx.project_id)
    return run_transitions(store, ctx, s.activity, period=period, day=day)


def group_persons(
    *,
    session: Session,
    store: EventStore,
    ctx: ProjectContext,
    group: str | None,
    as_of: date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> RfmPersonsPage:
    s = get_layer_settings(session, ctx.project_id)
    return rfm_persons(
        store, ctx, s.rfm, as_of or ctx.today(), group=group, limit=limit, offset=offset
    )


def layer_persons_page(
    *,
    session: Session,
    store: EventStore,
    ctx: ProjectContext,
    layer: str | None,
    as_of: date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> LayerPersonsPage:
    s = get_layer_settings(session, ctx.project_id)
    return layer_persons(
        store, ctx, s.activity, as_of or ctx.today(), layer=layer, limit=limit, offset=offset
    )


def compute_and_publish(
    *,
    store: EventStore,
    ctx: ProjectContext,
    settings: LayerSettings,
    as_of: date | None = None,
) -> ComputeReport:
    """RFM groups and activity layers for every person, published as derived values."""
    day = as_of or ctx.today()
    t0 = time.perf_counter()
    rfm, rfm_runs = publish_rfm(store, ctx, settings.rfm, day)
    layers, layer_run = publish_layers(store, ctx, settings.activity, day)
    runs = [
        PublishedRun(name=r.name, run_id=r.run_id, persons=r.row_count)
        for r in [*rfm_runs, layer_run]
    ]
    return ComputeReport(
        as_of=day, rfm=rfm, layers=layers, runs=runs, seconds=time.perf_counter() - t0
    )

"""The overview dashboard's figures: AARRR for two periods and DAU/WAU/MAU.

Only a composition of ``run_aarrr`` and ``run_active_users``: a metric has one definition,
so the landing page shows exactly what the analytics API answers. (It once had its own
single query because those functions took seconds on the demo data; they are now one
query each.) Top channels are the AARRR acquisition split, ``aarrr.current.new_by_channel``.
"""

from __future__ import annotations

import threading
import weakref
from datetime import date
from time import monotonic
from typing import Any

from pydantic import BaseModel, Field

from yunying.analytics.aarrr import AarrrQuery, AarrrResult, run_aarrr
from yunying.analytics.active_users import ActiveUsersQuery, ActiveUsersResult, run_active_users
from yunying.analytics.common import DateRange
from yunying.analytics.context import ProjectContext
from yunying.store.base import EventStore


class Overview(BaseModel):
    aarrr: AarrrResult
    active: ActiveUsersResult
    dau_mau_current: float | None = Field(description="DAU/MAU on the last day.")
    dau_mau_previous: float | None = Field(description="DAU/MAU on the day before.")
    dau_mau_change: float | None


def overview(
    store: EventStore,
    ctx: ProjectContext,
    *,
    date_from: date,
    date_to: date,
    today: date | None = None,
    activation_event: str | None = None,
) -> Overview:
    """AARRR (range and the equally long period before) and DAU/WAU/MAU for the range."""
    dates = DateRange(date_from=date_from, date_to=date_to)
    aarrr = run_aarrr(
        store,
        ctx,
        AarrrQuery(date_range=dates, activation_event=activation_event),
        today=today or ctx.today(),
    )
    active = run_active_users(store, ctx, ActiveUsersQuery(date_range=dates))
    ratio_now = active.dau_mau[-1]
    ratio_before = active.dau_mau[-2] if len(active.days) > 1 else None
    return Overview(
        aarrr=aarrr,
        active=active,
        dau_mau_current=ratio_now,
        dau_mau_previous=ratio_before,
        dau_mau_change=(ratio_now - ratio_before) / ratio_before
        if ratio_now is not None and ratio_before
        else None,
    )


_CACHE_TTL_S = 60.0
_cache_lock = threading.Lock()
_cache: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], tuple[float, Overview]]] = (
    weakref.WeakKeyDictionary()
)


def cached_overview(
    store: EventStore,
    ctx: ProjectContext,
    *,
    date_from: date,
    date_to: date,
    today: date | None = None,
    ttl: float = _CACHE_TTL_S,
) -> Overview:
    """``overview`` remembered for ``ttl`` seconds per store, project settings and dates.

    The landing page is opened far more often than a minute's new events change it.
    """
    today = today or ctx.today()
    key = (
        ctx.project_id, ctx.timezone, ctx.activation_event, ctx.revenue_property,
        ctx.invite_sent_event, ctx.invite_accepted_event, date_from, date_to, today,
    )  # fmt: skip
    now = monotonic()
    with _cache_lock:
        hit = _cache.get(store, {}).get(key)
    if hit is not None and now - hit[0] < ttl:
        return hit[1]
    result = overview(store, ctx, date_from=date_from, date_to=date_to, today=today)
    with _cache_lock:
        per_store = _cache.setdefault(store, {})
        per_store[key] = (now, result)
        for k in [k for k, (at, _) in per_store.items() if now - at >= ttl]:
            del per_store[k]
    return result

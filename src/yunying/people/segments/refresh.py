"""Refreshing a segment: compute members, publish them, record who entered and left.

Order of work, chosen so a crash at any point and a retry never duplicate history:
1. compute the members in the event store and publish them as a new derived run of
   ``segment:<id>`` (readers switch to it atomically);
2. diff it, in the event store, against the run of the last *recorded* refresh (the newest
   ``SegmentRun``), not against the newest published run: a run published by an attempt
   that crashed before step 3 is simply skipped over;
3. write the run row and every entered/left row in ONE transaction (unique per segment,
   run and person) and commit;
4. only then emit ``SegmentEntered``/``SegmentLeft`` and prune old derived runs.
Static lists go through the same steps with a given set of persons instead of step 1.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from yunying.analytics.context import ProjectContext
from yunying.db.segment_models import Segment, SegmentChange, SegmentRun
from yunying.internal_events import SegmentEntered, SegmentLeft, emit, has_subscribers
from yunying.people.segments.compile import segment_value_name
from yunying.people.segments.errors import SegmentError
from yunying.people.segments.service import (
    clean_name,
    definition_of,
    get_segment,
    list_segments,
    members_sql,
)
from yunying.store import derived
from yunying.store.base import EventStore

INSERT_CHUNK = 5000
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshResult:
    segment_id: int
    run_id: int
    members: int
    entered: int
    left: int
    at: datetime


def _last_recorded(session: Session, segment_id: int) -> int | None:
    return session.scalar(
        select(SegmentRun.run_id)
        .where(SegmentRun.segment_id == segment_id)
        .order_by(SegmentRun.run_id.desc())
        .limit(1)
    )


def _diff(store: EventStore, project_id: int, name: str, new: int, old: int | None) -> Any:
    """(entered, left) person id lists between two runs (old None = nobody before)."""
    d = store.dialect
    now = derived.values_sql(d, project_id, name, new)
    if old is None:
        entered = store.query(f"SELECT person_id FROM ({now}) n").column("person_id")
        return entered.to_pylist(), []
    before = derived.values_sql(d, project_id, name, old)
    entered = store.query(
        f"SELECT person_id FROM ({now}) n WHERE person_id NOT IN "
        f"(SELECT person_id FROM ({before}) b)"
    ).column("person_id")
    left = store.query(
        f"SELECT person_id FROM ({before}) b WHERE person_id NOT IN "
        f"(SELECT person_id FROM ({now}) n)"
    ).column("person_id")
    return entered.to_pylist(), left.to_pylist()


def _record(
    *,
    session: Session,
    store: EventStore,
    segment: Segment,
    run: derived.Run,
    now: datetime,
) -> RefreshResult:
    name = segment_value_name(segment.id)
    previous = _last_recorded(session, segment.id)
    entered, left = _diff(store, segment.project_id, name, run.run_id, previous)
    session.add(
        SegmentRun(
            segment_id=segment.id,
            run_id=run.run_id,
            at=now,
            members=run.row_count,
            entered=len(entered),
            left=len(left),
        )
    )
    rows = [
        {
            "segment_id": segment.id,
            "person_id": p,
            "change": change,
            "at": now,
            "run_id": run.run_id,
        }
        for change, ids in (("entered", entered), ("left", left))
        for p in ids
    ]
    for i in range(0, len(rows), INSERT_CHUNK):
        session.execute(insert(SegmentChange), rows[i : i + INSERT_CHUNK])
    segment.last_refreshed_at = now
    segment.last_count = run.row_count
    session.commit()  # history is durable before anyone hears about it
    project = segment.project_id
    if has_subscribers(SegmentEntered):
        for p in entered:
            emit(SegmentEntered(project_id=project, segment_id=segment.id, person_id=p, at=now))
    if has_subscribers(SegmentLeft):
        for p in left:
            emit(SegmentLeft(project_id=project, segment_id=segment.id, person_id=p, at=now))
    derived.prune(store, project, name, keep=2)
    return RefreshResult(segment.id, run.run_id, run.row_count, len(entered), len(left), now)


def refresh_segment(
    *,
    session: Session,
    store: EventStore,
    ctx: ProjectContext,
    segment_id: int,
    today: date | None = None,
    now: datetime | None = None,
) -> RefreshResult:
    """Recompute a dynamic or system segment now; commits its history (see module doc)."""
    segment = get_segment(session=session, project_id=ctx.project_id, segment_id=segment_id)
    node = definition_of(segment)
    if node is None:
        raise SegmentError("segment", "static", "a static segment is changed by uploading a list")
    sql = members_sql(
        session=session, store=store, ctx=ctx, definition=node, segment_id=segment.id, today=today
    )
    data = store.query(sql + store.dialect.settings_suffix()).select(["person_id"])
    run = derived.write_values(store, ctx.project_id, segment_value_name(segment.id), data)
    return _record(session=session, store=store, segment=segment, run=run, now=now or _now())


def refresh_all(
    *, session: Session, store: EventStore, ctx: ProjectContext, today: date | None = None
) -> list[RefreshResult]:
    """Refresh every dynamic and system segment of the project (the periodic job).

    One failing segment (say a regex the engine rejects) is logged and skipped so the
    others still refresh; the job fails afterwards if any did, so the queue retries.
    """
    out, failed = [], []
    for segment in list_segments(session=session, project_id=ctx.project_id):
        if segment.kind == "static":
            continue
        try:
            out.append(
                refresh_segment(
                    session=session, store=store, ctx=ctx, segment_id=segment.id, today=today
                )
            )
        except Exception:
            log.exception("refreshing segment %s of project %s failed", segment.id, ctx.project_id)
            session.rollback()
            failed.append(segment.id)
    if failed:
        raise RefreshFailed(failed, out)
    return out


class RefreshFailed(RuntimeError):
    """Some segments could not be refreshed (the others were)."""

    def __init__(self, failed: list[int], done: list[RefreshResult]) -> None:
        super().__init__(f"segments {', '.join(map(str, failed))} could not be refreshed")
        self.failed = failed
        self.done = done


def set_static_members(
    *,
    session: Session,
    store: EventStore,
    project_id: int,
    segment_id: int,
    person_ids: Iterable[str],
    now: datetime | None = None,
) -> RefreshResult:
    """Replace a static segment's members (an upload, a saved funnel-step list)."""
    segment = get_segment(session=session, project_id=project_id, segment_id=segment_id)
    if segment.kind != "static":
        raise SegmentError("segment", "not_static", "only static segments take a list of persons")
    ids = sorted({str(p) for p in person_ids if str(p)})
    data = pa.table({"person_id": pa.array(ids, pa.string())})
    run = derived.write_values(store, project_id, segment_value_name(segment.id), data)
    return _record(session=session, store=store, segment=segment, run=run, now=now or _now())


def create_static_segment(
    *,
    session: Session,
    store: EventStore,
    project_id: int,
    name: str,
    person_ids: Iterable[str],
    description: str = "",
    created_by: int | None = None,
) -> Segment:
    """A new static segment holding ``person_ids`` (e.g. the persons at a funnel step)."""
    segment = Segment(
        project_id=project_id,
        name=clean_name(name),
        description=(description or "").strip(),
        kind="static",
        definition="{}",
        created_by=created_by,
    )
    session.add(segment)
    session.flush()
    set_static_members(
        session=session,
        store=store,
        project_id=project_id,
        segment_id=segment.id,
        person_ids=person_ids,
    )
    return segment


def _now() -> datetime:
    return datetime.now(UTC)

"""Segment services on the operational store (SQLite, PostgreSQL) and both event stores:
CRUD, preview, refresh history (entered/left, idempotent retry), static lists and CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import ev, load, pid
from yunying.analytics.context import ProjectContext
from yunying.db.projects import create_project
from yunying.db.segment_models import SegmentChange, SegmentRun
from yunying.internal_events import SegmentEntered, SegmentLeft, subscribe
from yunying.people.segments import service
from yunying.people.segments.errors import NotFound, SegmentError
from yunying.store import derived
from yunying.store.base import EventStore

TODAY = date(2024, 1, 10)
BUYERS = {"type": "behaviour", "event": "buy", "window": {"last_days": 7}}


@pytest.fixture
def ctx(session: Session) -> ProjectContext:
    a, _, _ = create_project(session, name="A")
    create_project(session, name="B")
    session.commit()
    return ProjectContext(project_id=a.id)


def _load(store: EventStore, ctx: ProjectContext, buyers: list[str], others: list[str]) -> None:
    p = ctx.project_id
    load(
        store,
        [ev(u, "buy", "2024-01-08 10:00", project_id=p) for u in buyers]
        + [ev(u, "pv", "2024-01-08 10:00", project_id=p) for u in others],
        project_id=p,
    )


def test_crud_and_validation(session: Session, ctx: ProjectContext) -> None:
    p = ctx.project_id
    s = service.create_segment(session=session, project_id=p, name=" Buyers ", definition=BUYERS)
    assert s.name == "Buyers" and s.kind == "dynamic"
    assert [x.id for x in service.list_segments(session=session, project_id=p)] == [s.id]
    with pytest.raises(SegmentError) as err:
        service.create_segment(
            session=session,
            project_id=p,
            name="bad",
            definition={
                "op": "and",
                "conditions": [{"type": "behaviour", "event": "x", "count": {"value": -1}}],
            },
        )
    assert err.value.field == "definition.conditions.0.count.value"
    with pytest.raises(SegmentError) as err:
        service.create_segment(session=session, project_id=p, name="  ", definition=BUYERS)
    assert err.value.field == "name"
    with pytest.raises(NotFound):
        service.get_segment(session=session, project_id=p + 1, segment_id=s.id)
    service.update_segment(session=session, project_id=p, segment_id=s.id, name="Big buyers")
    assert service.get_segment(session=session, project_id=p, segment_id=s.id).name == "Big buyers"
    service.delete_segment(session=session, project_id=p, segment_id=s.id)
    assert service.list_segments(session=session, project_id=p) == []


def test_references_cycles_and_in_use(session: Session, ctx: ProjectContext) -> None:
    p = ctx.project_id
    a = service.create_segment(session=session, project_id=p, name="a", definition=BUYERS)
    b = service.create_segment(
        session=session,
        project_id=p,
        name="b",
        definition={"type": "in_segment", "segment_id": a.id},
    )
    with pytest.raises(SegmentError, match="refers to itself"):
        service.update_segment(
            session=session, project_id=p, segment_id=a.id,
            definition={"type": "in_segment", "segment_id": b.id},
        )  # fmt: skip
    with pytest.raises(SegmentError, match="does not exist"):
        service.create_segment(
            session=session,
            project_id=p,
            name="c",
            definition={"type": "in_segment", "segment_id": 999},
        )
    with pytest.raises(SegmentError) as err:
        service.delete_segment(session=session, project_id=p, segment_id=a.id)
    assert err.value.code == "in_use"


def test_system_segment_is_idempotent_and_protected(session: Session, ctx: ProjectContext) -> None:
    p = ctx.project_id
    score = {"type": "score", "name": "churn_risk", "operator": "gte", "value": 0.7}
    a = service.ensure_system_segment(
        session=session, project_id=p, key="churn_risk", name="Churn risk", definition=score
    )
    b = service.ensure_system_segment(
        session=session, project_id=p, key="churn_risk", name="Churn risk", definition=score
    )
    assert a.id == b.id and a.kind == "system"
    c = service.ensure_system_segment(
        session=session,
        project_id=p,
        key="churn_risk",
        name="流失风险",
        definition={**score, "value": 0.8},
    )
    assert c.id == a.id and c.name == "流失风险" and '"value": 0.8' in c.definition
    with pytest.raises(SegmentError) as err:
        service.delete_segment(session=session, project_id=p, segment_id=a.id)
    assert err.value.code == "system"
    session.commit()


def test_preview_counts_and_samples(
    session: Session, ctx: ProjectContext, store: EventStore
) -> None:
    _load(store, ctx, ["b1", "b2", "b3"], ["o1"])
    got = service.preview(
        session=session, store=store, ctx=ctx, definition=BUYERS, sample=2, today=TODAY
    )
    assert got.count == 3
    assert got.sample == sorted(pid(u, ctx.project_id) for u in ["b1", "b2", "b3"])[:2]
    nobody = {"type": "behaviour", "event": "nothing"}
    assert (
        service.preview(session=session, store=store, ctx=ctx, definition=nobody, today=TODAY).count
        == 0
    )


def _history(session: Session, segment_id: int) -> list[tuple[str, str]]:
    rows = session.scalars(select(SegmentChange).where(SegmentChange.segment_id == segment_id))
    return sorted((r.change, r.person_id) for r in rows)


def test_refresh_records_entered_and_left(
    session: Session, ctx: ProjectContext, store: EventStore
) -> None:
    p = ctx.project_id
    _load(store, ctx, ["b1", "b2"], ["o1"])
    seg = service.create_segment(session=session, project_id=p, name="buyers", definition=BUYERS)
    session.commit()
    events: list[Any] = []
    offs = [subscribe(SegmentEntered, events.append), subscribe(SegmentLeft, events.append)]
    try:
        first = service.refresh_segment(
            session=session, store=store, ctx=ctx, segment_id=seg.id, today=TODAY
        )
        assert (first.members, first.entered, first.left) == (2, 2, 0)
        # b1 stops qualifying (window moves), o1 starts buying
        load(store, [ev("o1", "buy", "2024-01-15 10:00", project_id=p)], project_id=p)
        second = service.refresh_segment(
            session=session, store=store, ctx=ctx, segment_id=seg.id, today=date(2024, 1, 15)
        )
    finally:
        for off in offs:
            off()
    assert (second.members, second.entered, second.left) == (1, 1, 2)
    assert _history(session, seg.id) == sorted(
        [("entered", pid("b1", p)), ("entered", pid("b2", p)), ("entered", pid("o1", p)),
         ("left", pid("b1", p)), ("left", pid("b2", p))]
    )  # fmt: skip
    kinds = sorted((type(e).__name__, e.person_id) for e in events)
    assert ("SegmentEntered", pid("o1", p)) in kinds and len(kinds) == 5
    assert all(e.segment_id == seg.id and e.project_id == p for e in events)
    page = service.list_members(session=session, store=store, project_id=p, segment_id=seg.id)
    assert page.person_ids == [pid("o1", p)] and page.total == 1
    assert [r.members for r in service.runs(session=session, segment_id=seg.id)] == [2, 1]
    assert service.get_segment(session=session, project_id=p, segment_id=seg.id).last_count == 1


def test_retry_after_a_crash_never_duplicates(
    session: Session, ctx: ProjectContext, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = ctx.project_id
    _load(store, ctx, ["b1", "b2"], [])
    seg = service.create_segment(session=session, project_id=p, name="buyers", definition=BUYERS)
    session.commit()
    service.refresh_segment(session=session, store=store, ctx=ctx, segment_id=seg.id, today=TODAY)
    load(store, [ev("b3", "buy", "2024-01-09 10:00", project_id=p)], project_id=p)

    from yunying.people.segments import refresh

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("worker died")

    monkeypatch.setattr(refresh, "_diff", crash)  # published, but history not written
    with pytest.raises(RuntimeError):
        service.refresh_segment(
            session=session, store=store, ctx=ctx, segment_id=seg.id, today=TODAY
        )
    session.rollback()
    monkeypatch.undo()
    retry = service.refresh_segment(
        session=session, store=store, ctx=ctx, segment_id=seg.id, today=TODAY
    )
    again = service.refresh_segment(
        session=session, store=store, ctx=ctx, segment_id=seg.id, today=TODAY
    )
    assert (retry.entered, retry.left) == (1, 0)
    assert (again.entered, again.left) == (0, 0)
    entered = _history(session, seg.id)
    assert entered == sorted(("entered", pid(u, p)) for u in ["b1", "b2", "b3"])
    assert session.scalar(select(func.count()).select_from(SegmentRun)) == 3


def test_static_segments_from_lists_and_csv(
    session: Session, ctx: ProjectContext, store: EventStore
) -> None:
    p = ctx.project_id
    _load(store, ctx, ["b1"], ["o1", "o2"])
    load(
        store,
        [ev("anon", "pv", "2024-01-08 10:00", project_id=p)],
        merges={"anon": "o2"},
        project_id=p,
    )
    seg = service.create_static_segment(
        session=session, store=store, project_id=p, name="picked", person_ids=[pid("b1", p)]
    )
    assert service.list_members(
        session=session, store=store, project_id=p, segment_id=seg.id
    ).person_ids == [pid("b1", p)]
    csv = "distinct_id,name\no1,One\nanon,Merged\nnobody,X\n\no1,again\n"
    result = service.import_csv(
        session=session, store=store, ctx=ctx, segment_id=seg.id, data=csv.encode()
    )
    assert result.column == "distinct_id" and result.rows == 3
    assert result.unknown == ["nobody"] and result.matched == 2
    assert (result.refresh.entered, result.refresh.left) == (2, 1)
    by_person = f"\ufeffperson_id\n{pid('b1', p)}\nnot-a-person\n"
    result = service.import_csv(
        session=session, store=store, ctx=ctx, segment_id=seg.id, data=by_person
    )
    assert result.matched == 1 and result.unknown == ["not-a-person"]
    lines = "".join(service.export_csv(session=session, store=store, ctx=ctx, segment_id=seg.id))
    assert lines == f"person_id,distinct_ids\n{pid('b1', p)},b1\n"
    with pytest.raises(SegmentError) as err:
        service.import_csv(
            session=session, store=store, ctx=ctx, segment_id=seg.id, data="email\nx@y\n"
        )
    assert err.value.field == "file"
    dyn = service.create_segment(session=session, project_id=p, name="d", definition=BUYERS)
    with pytest.raises(SegmentError):
        service.set_static_members(
            session=session, store=store, project_id=p, segment_id=dyn.id, person_ids=[]
        )
    with pytest.raises(SegmentError):
        service.refresh_segment(session=session, store=store, ctx=ctx, segment_id=seg.id)


def test_export_lists_every_distinct_id(
    session: Session, ctx: ProjectContext, store: EventStore
) -> None:
    p = ctx.project_id
    load(
        store,
        [
            ev("u1", "buy", "2024-01-08 10:00", project_id=p),
            ev("anon", "buy", "2024-01-08 11:00", project_id=p),
        ],
        merges={"anon": "u1"},
        project_id=p,
    )
    seg = service.create_segment(session=session, project_id=p, name="b", definition=BUYERS)
    service.refresh_segment(session=session, store=store, ctx=ctx, segment_id=seg.id, today=TODAY)
    text = "".join(service.export_csv(session=session, store=store, ctx=ctx, segment_id=seg.id))
    assert text.splitlines()[1] == f"{pid('u1', p)},anon u1"


def test_in_segment_reads_static_members(
    session: Session, ctx: ProjectContext, store: EventStore
) -> None:
    p = ctx.project_id
    _load(store, ctx, ["b1", "b2"], ["o1"])
    static = service.create_static_segment(
        session=session,
        store=store,
        project_id=p,
        name="vip",
        person_ids=[pid("b1", p), pid("o1", p)],
    )
    both = {"op": "and", "conditions": [BUYERS, {"type": "in_segment", "segment_id": static.id}]}
    got = service.preview(session=session, store=store, ctx=ctx, definition=both, today=TODAY)
    assert got.sample == [pid("b1", p)]
    derived.ensure_tables(store)
    assert (
        datetime.now(UTC)
        >= service.get_segment(
            session=session, project_id=p, segment_id=static.id
        ).last_refreshed_at
    )


def test_one_bad_segment_does_not_stop_the_others(
    session: Session, ctx: ProjectContext, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yunying.people.segments import refresh

    p = ctx.project_id
    _load(store, ctx, ["b1"], [])
    bad = service.create_segment(session=session, project_id=p, name="bad", definition=BUYERS)
    good = service.create_segment(session=session, project_id=p, name="ok", definition=BUYERS)
    session.commit()
    real = refresh.refresh_segment

    def flaky(**kw: Any) -> Any:
        if kw["segment_id"] == bad.id:
            raise RuntimeError("engine rejected the query")
        return real(**kw)

    monkeypatch.setattr(refresh, "refresh_segment", flaky)
    with pytest.raises(refresh.RefreshFailed) as err:
        service.refresh_all(session=session, store=store, ctx=ctx, today=TODAY)
    assert err.value.failed == [bad.id]
    assert [r.segment_id for r in err.value.done] == [good.id]
    assert service.get_segment(session=session, project_id=p, segment_id=good.id).last_count == 1

"""Segments (用户分群): keyword-only service functions over the operational store (the
definition) and the event store (members as derived values ``segment:<id>``).

API, CLI and console call these and nothing else. Refreshing, static lists and CSV live in
``refresh`` and ``csv_io``; they are re-exported here so callers import one module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yunying.analytics.context import ProjectContext
from yunying.db.segment_models import SEGMENT_KINDS, Segment, SegmentChange, SegmentRun
from yunying.people.segments import dsl
from yunying.people.segments.compile import (
    CompileError,
    SegmentRef,
    compile_segment,
    segment_value_name,
)
from yunying.people.segments.errors import NotFound, SegmentError
from yunying.store import derived
from yunying.store.base import EventStore

NAME_MAX = 200
SAMPLE_SIZE = 20
MAX_PAGE = 1000


def clean_name(name: str | None) -> str:
    text = (name or "").strip()
    if not text:
        raise SegmentError("name", "required", "must not be empty")
    if len(text) > NAME_MAX:
        raise SegmentError("name", "too_long", f"at most {NAME_MAX} characters")
    return text


def parse(definition: Any, field: str = "definition") -> Any:
    """A validated DSL node; SegmentError naming the first bad path (all in ``problems``)."""
    try:
        return dsl.parse_definition(definition)
    except dsl.DefinitionError as exc:
        problems = [(".".join(p for p in (field, path) if p), m) for path, m in exc.problems]
        where, message = problems[0]
        raise SegmentError(where, "invalid_definition", message, problems) from None


def definition_of(segment: Segment) -> Any | None:
    """The parsed definition of a dynamic/system segment; None for a static list."""
    if segment.kind == "static":
        return None
    return dsl.parse_definition(segment.definition)


# ---- CRUD ------------------------------------------------------------------------------


def list_segments(*, session: Session, project_id: int) -> list[Segment]:
    return list(
        session.scalars(
            select(Segment).where(Segment.project_id == project_id).order_by(Segment.id)
        )
    )


def get_segment(*, session: Session, project_id: int, segment_id: int) -> Segment:
    """The segment, or NotFound (also for another project's id)."""
    segment = session.get(Segment, segment_id)
    if segment is None or segment.project_id != project_id:
        raise NotFound(f"segment {segment_id}")
    return segment


def resolver(session: Session, project_id: int) -> Any:
    """``in_segment`` look-ups for the compiler, limited to ``project_id``."""

    def resolve(segment_id: int) -> SegmentRef | None:
        segment = session.get(Segment, segment_id)
        if segment is None or segment.project_id != project_id:
            return None
        return SegmentRef(segment.id, definition_of(segment))

    return resolve


def check_references(
    *, session: Session, project_id: int, node: Any, segment_id: int | None = None
) -> None:
    """Every ``in_segment`` exists in the project and no reference leads back here."""
    resolve = resolver(session, project_id)
    dialect = _any_dialect()
    ctx = ProjectContext(project_id=project_id)
    try:
        compile_segment(dialect, ctx, node, resolve=resolve, segment_id=segment_id)
    except CompileError as exc:
        raise SegmentError("definition", "bad_reference", str(exc)) from None


def _any_dialect() -> Any:
    from yunying.store.dialect import DuckDBDialect

    return DuckDBDialect()  # references are engine-independent; only checked here


def _store_definition(node: Any) -> str:
    return json.dumps(dsl.dump_definition(node), ensure_ascii=False, sort_keys=True)


def create_segment(
    *,
    session: Session,
    project_id: int,
    name: str,
    definition: Any = None,
    kind: str = "dynamic",
    description: str = "",
    created_by: int | None = None,
) -> Segment:
    """A new dynamic segment (``definition`` required) or static list (no definition)."""
    if kind not in ("dynamic", "static"):
        raise SegmentError("kind", "invalid_kind", "must be dynamic or static")
    text = "{}"
    if kind == "dynamic":
        if definition is None:
            raise SegmentError("definition", "required", "a dynamic segment needs a definition")
        node = parse(definition)
        check_references(session=session, project_id=project_id, node=node)
        text = _store_definition(node)
    segment = Segment(
        project_id=project_id,
        name=clean_name(name),
        description=(description or "").strip(),
        kind=kind,
        definition=text,
        created_by=created_by,
    )
    session.add(segment)
    session.flush()
    return segment


def update_segment(
    *,
    session: Session,
    project_id: int,
    segment_id: int,
    name: str | None = None,
    description: str | None = None,
    definition: Any = None,
) -> Segment:
    """Rename, describe, or (dynamic only) redefine; the next refresh applies a new
    definition and records who entered or left because of it."""
    segment = get_segment(session=session, project_id=project_id, segment_id=segment_id)
    if name is not None:
        segment.name = clean_name(name)
    if description is not None:
        segment.description = description.strip()
    if definition is not None:
        if segment.kind != "dynamic":
            raise SegmentError(
                "definition", "not_editable", f"a {segment.kind} segment has no editable definition"
            )
        node = parse(definition)
        check_references(session=session, project_id=project_id, node=node, segment_id=segment.id)
        segment.definition = _store_definition(node)
    segment.updated_at = datetime.now(UTC)
    session.flush()
    return segment


def delete_segment(*, session: Session, project_id: int, segment_id: int) -> None:
    """Delete a user segment (history goes with it); system segments and segments other
    segments refer to are refused."""
    segment = get_segment(session=session, project_id=project_id, segment_id=segment_id)
    if segment.kind == "system":
        raise SegmentError("segment", "system", "a system segment cannot be deleted")
    for other in list_segments(session=session, project_id=project_id):
        if other.id != segment.id and other.kind != "static":
            refs = dsl.referenced_segments(dsl.parse_definition(other.definition))
            if segment.id in refs:
                raise SegmentError(
                    "segment", "in_use", f"segment {other.id} ({other.name}) refers to it"
                )
    session.delete(segment)
    session.flush()


def ensure_system_segment(
    *, session: Session, project_id: int, key: str, name: str, definition: Any
) -> Segment:
    """The project's system segment ``key`` (created once; name and definition kept up to
    date). Features own these (churn warning's "churn risk"); users cannot delete them."""
    node = parse(definition)
    text = _store_definition(node)
    segment = session.scalar(
        select(Segment).where(Segment.project_id == project_id, Segment.system_key == key)
    )
    if segment is None:
        check_references(session=session, project_id=project_id, node=node)
        segment = Segment(
            project_id=project_id,
            name=clean_name(name),
            kind="system",
            system_key=key,
            definition=text,
        )
        session.add(segment)
    elif segment.definition != text or segment.name != name:
        check_references(session=session, project_id=project_id, node=node, segment_id=segment.id)
        segment.name, segment.definition = clean_name(name), text
        segment.updated_at = datetime.now(UTC)
    session.flush()
    return segment


# ---- computing -------------------------------------------------------------------------


def members_sql(
    *,
    session: Session,
    store: EventStore,
    ctx: ProjectContext,
    definition: Any,
    segment_id: int | None = None,
    today: date | None = None,
) -> str:
    """SELECT person_id of the definition's members (no settings suffix)."""
    node = parse(definition) if isinstance(definition, dict | str) else definition
    derived.ensure_tables(store)
    try:
        return compile_segment(
            store.dialect,
            ctx,
            node,
            today=today,
            resolve=resolver(session, ctx.project_id),
            segment_id=segment_id,
        )
    except CompileError as exc:
        raise SegmentError("definition", "bad_reference", str(exc)) from None


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[str]  # person ids, sorted


def preview(
    *,
    session: Session,
    store: EventStore,
    ctx: ProjectContext,
    definition: Any,
    sample: int = SAMPLE_SIZE,
    today: date | None = None,
) -> Preview:
    """How many persons a draft definition matches now, and a few of them (one query)."""
    sql = members_sql(session=session, store=store, ctx=ctx, definition=definition, today=today)
    rows = store.query(
        f"SELECT person_id, count(*) OVER () AS n FROM ({sql}) s ORDER BY person_id "
        f"LIMIT {max(1, int(sample))}{store.dialect.settings_suffix()}"
    ).to_pylist()
    return Preview(int(rows[0]["n"]) if rows else 0, [str(r["person_id"]) for r in rows])


@dataclass(frozen=True)
class MemberPage:
    person_ids: list[str]
    total: int
    limit: int
    offset: int
    refreshed_at: datetime | None


def list_members(
    *,
    session: Session,
    store: EventStore,
    project_id: int,
    segment_id: int,
    limit: int = 50,
    offset: int = 0,
) -> MemberPage:
    """The members published by the last refresh (or upload), by person id."""
    segment = get_segment(session=session, project_id=project_id, segment_id=segment_id)
    limit = max(1, min(int(limit), MAX_PAGE))
    offset = max(0, int(offset))
    derived.ensure_tables(store)
    src = derived.values_sql(store.dialect, project_id, segment_value_name(segment.id))
    rows = store.query(
        f"SELECT person_id, count(*) OVER () AS n FROM ({src}) v ORDER BY person_id "
        f"LIMIT {limit} OFFSET {offset}"
    ).to_pylist()
    total = int(rows[0]["n"]) if rows else (segment.last_count or 0 if offset else 0)
    return MemberPage(
        [str(r["person_id"]) for r in rows], total, limit, offset, segment.last_refreshed_at
    )


def runs(*, session: Session, segment_id: int, limit: int = 100) -> list[SegmentRun]:
    """The newest completed refreshes, oldest first (for the history chart)."""
    found = session.scalars(
        select(SegmentRun)
        .where(SegmentRun.segment_id == segment_id)
        .order_by(SegmentRun.run_id.desc())
        .limit(limit)
    )
    return list(reversed(list(found)))


def changes(
    *,
    session: Session,
    segment_id: int,
    limit: int = 100,
    offset: int = 0,
    person_id: str | None = None,
) -> list[SegmentChange]:
    """Entered/left rows, newest first."""
    q = select(SegmentChange).where(SegmentChange.segment_id == segment_id)
    if person_id is not None:
        q = q.where(SegmentChange.person_id == person_id)
    q = q.order_by(SegmentChange.run_id.desc(), SegmentChange.person_id)
    return list(session.scalars(q.limit(max(1, min(limit, MAX_PAGE))).offset(max(0, offset))))


def segment_kinds() -> tuple[str, ...]:
    return SEGMENT_KINDS


from yunying.people.segments.csv_io import (  # noqa: E402  (re-exported)
    ImportResult,
    export_csv,
    import_csv,
)
from yunying.people.segments.refresh import (  # noqa: E402  (re-exported)
    RefreshResult,
    create_static_segment,
    refresh_all,
    refresh_segment,
    set_static_members,
)

__all__ = [
    "ImportResult",
    "MemberPage",
    "Preview",
    "RefreshResult",
    "SegmentError",
    "changes",
    "check_references",
    "clean_name",
    "create_segment",
    "create_static_segment",
    "definition_of",
    "delete_segment",
    "ensure_system_segment",
    "export_csv",
    "get_segment",
    "import_csv",
    "list_members",
    "list_segments",
    "members_sql",
    "parse",
    "preview",
    "refresh_all",
    "refresh_segment",
    "resolver",
    "runs",
    "set_static_members",
    "update_segment",
]

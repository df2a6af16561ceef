"""Static segments from CSV, and members out as CSV.

An upload names persons by ``person_id`` or by ``distinct_id`` (the id the app sends; it is
mapped to its person after identity merge). Ids the project does not know are reported,
not silently dropped. The CSV is parsed here, not in the shells, so the API, CLI and
console accept exactly the same files.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from yunying.analytics.context import ProjectContext
from yunying.analytics.source import person_map_sql
from yunying.insights.sqlutil import in_list
from yunying.people.segments.compile import segment_value_name
from yunying.people.segments.errors import SegmentError
from yunying.people.segments.refresh import RefreshResult, set_static_members
from yunying.people.segments.service import get_segment
from yunying.people.segments.sqlparts import universe_sql
from yunying.store import derived
from yunying.store.base import EventStore

MAX_ROWS = 1_000_000
MAX_ID = 200
LOOKUP_CHUNK = 1000
ID_COLUMNS = ("person_id", "distinct_id")


@dataclass(frozen=True)
class ImportResult:
    column: str  # which id column the file used
    rows: int  # non-empty ids read (after removing repeats)
    matched: int  # persons found (two distinct ids of one person count once)
    unknown: list[str]  # ids the project does not know (first 1000)
    unknown_count: int
    refresh: RefreshResult


def read_ids(data: bytes | str) -> tuple[str, list[str]]:
    """(column, ids) from CSV text with a ``person_id`` or ``distinct_id`` header."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SegmentError("file", "encoding", "the file is not UTF-8 text") from None
    data = data.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(data))
    header = next(reader, None)
    if not header:
        raise SegmentError("file", "empty", "the file is empty")
    names = [h.strip().lower() for h in header]
    column = next((c for c in ID_COLUMNS if c in names), None)
    if column is None:
        raise SegmentError("file", "no_id_column", "needs a person_id or distinct_id column")
    index = names.index(column)
    seen: dict[str, None] = {}
    try:
        for line, row in enumerate(reader, start=2):
            if index >= len(row):
                continue
            value = row[index].strip()
            if not value:
                continue
            if len(value) > MAX_ID:
                raise SegmentError("file", "id_too_long", f"line {line}: id longer than {MAX_ID}")
            seen[value] = None
            if len(seen) > MAX_ROWS:
                raise SegmentError("file", "too_many", f"at most {MAX_ROWS:,} ids")
    except csv.Error as exc:
        raise SegmentError("file", "bad_csv", f"not a CSV file: {exc}") from None
    return column, list(seen)


def resolve_ids(
    store: EventStore, ctx: ProjectContext, column: str, ids: list[str]
) -> tuple[list[str], list[str]]:
    """(person ids found, ids not known) for ids of kind ``column``."""
    d = store.dialect
    found: list[str] = []
    unknown: list[str] = []
    for i in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[i : i + LOOKUP_CHUNK]
        if column == "distinct_id":
            sql = (
                f"SELECT distinct_id AS k, person_id AS pid FROM ({person_map_sql(d, ctx)}) m "
                f"WHERE {in_list(d, 'distinct_id', chunk)}"
            )
        else:
            sql = (
                f"SELECT pid AS k, pid FROM ({universe_sql(d, ctx)}) u "
                f"WHERE {in_list(d, 'pid', chunk)}"
            )
        known = {str(r["k"]): str(r["pid"]) for r in store.query(sql).to_pylist()}
        found += [known[k] for k in chunk if k in known]
        unknown += [k for k in chunk if k not in known]
    return sorted(set(found)), unknown


def import_csv(
    *,
    session: Session,
    store: EventStore,
    ctx: ProjectContext,
    segment_id: int,
    data: bytes | str,
) -> ImportResult:
    """Replace a static segment's members with the persons the CSV names."""
    get_segment(session=session, project_id=ctx.project_id, segment_id=segment_id)
    column, ids = read_ids(data)
    persons, unknown = resolve_ids(store, ctx, column, ids)
    result = set_static_members(
        session=session,
        store=store,
        project_id=ctx.project_id,
        segment_id=segment_id,
        person_ids=persons,
    )
    return ImportResult(column, len(ids), len(persons), unknown[:1000], len(unknown), result)


def export_csv(
    *, session: Session, store: EventStore, ctx: ProjectContext, segment_id: int
) -> Iterator[str]:
    """Lines of ``person_id,distinct_ids`` (ids joined by spaces), header first."""
    segment = get_segment(session=session, project_id=ctx.project_id, segment_id=segment_id)
    derived.ensure_tables(store)
    d = store.dialect
    members = derived.values_sql(d, ctx.project_id, segment_value_name(segment.id))
    ids_of = "groupArray(m.distinct_id)" if d.name == "clickhouse" else "list(m.distinct_id)"
    table = store.query(
        f"SELECT v.person_id AS person_id, {ids_of} AS ids FROM ({members}) v "
        f"LEFT JOIN ({person_map_sql(d, ctx)}) m ON m.person_id = v.person_id "
        f"GROUP BY v.person_id ORDER BY v.person_id{d.settings_suffix()}"
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["person_id", "distinct_ids"])
    yield out.getvalue()
    for batch in table.to_batches(10_000):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for pid, ids in zip(
            batch.column("person_id").to_pylist(), batch.column("ids").to_pylist(), strict=True
        ):
            writer.writerow([pid, " ".join(sorted(i for i in ids or [] if i))])
        yield out.getvalue()

"""``yunying segments …``: list, create, preview, refresh, export, import-csv, history.

Definitions are the JSON DSL of docs/segments.md, read from a file (``--file dsl.json``)
or given inline (``--definition '{...}'``); a bad one names the JSON path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from yunying.cli.common import (
    CliError,
    DatabaseUrlOpt,
    DataDirOpt,
    ProjectOpt,
    console,
    db_session,
    event_store,
    handle_errors,
    make_settings,
)
from yunying.cli.render import FormatOpt, OutputFormat, emit_rows, write_json
from yunying.db.projects import context_for, find_project
from yunying.people.segments import service
from yunying.people.segments.errors import NotFound, SegmentError
from yunying.people.segments.refresh import RefreshFailed
from yunying.people.segments.schemas import SegmentPublic

app = typer.Typer(
    help="Segments (用户分群): define, preview, refresh, export.", no_args_is_help=True
)

FileOpt = Annotated[
    Path | None, typer.Option("--file", help="The definition (DSL) as a JSON file.")
]
DefinitionOpt = Annotated[
    str | None, typer.Option("--definition", help="The definition (DSL) as JSON text.")
]
SegmentArg = Annotated[int, typer.Argument(help="Segment id (see `yunying segments list`).")]
COLUMNS = ["id", "name", "kind", "last_count", "last_refreshed_at", "description"]


def _definition(file: Path | None, text: str | None, *, required: bool = True) -> Any:
    if file is not None and text is not None:
        raise CliError("give --file or --definition, not both")
    if file is not None:
        if not file.is_file():
            raise CliError(f"--file: no such file: {file}")
        text = file.read_text(encoding="utf-8")
    if text is None:
        if required:
            raise CliError("a definition is needed: --file dsl.json or --definition '{...}'")
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"definition: invalid JSON ({exc.msg} at line {exc.lineno})") from None


def _fail(exc: SegmentError | NotFound) -> None:
    if isinstance(exc, NotFound):
        raise CliError(f"{exc} not found in this project") from None
    raise CliError("; ".join(f"{p}: {m}" for p, m in exc.problems)) from None


def _emit_segments(segments: list[Any], fmt: OutputFormat) -> None:
    public = [SegmentPublic.of(s) for s in segments]
    if fmt == OutputFormat.json:
        write_json([p.model_dump(mode="json") for p in public])
        return
    emit_rows(COLUMNS, [[getattr(p, c) for c in COLUMNS] for p in public], fmt, title="Segments")


@app.command("list")
@handle_errors
def list_command(
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """List the project's segments with their last count and refresh time."""
    with db_session(make_settings(data_dir, database_url)) as session:
        p = find_project(session, project)
        _emit_segments(service.list_segments(session=session, project_id=p.id), fmt)


@app.command("create")
@handle_errors
def create_command(
    name: Annotated[str, typer.Option("--name", help="Segment name.")],
    file: FileOpt = None,
    definition: DefinitionOpt = None,
    static: Annotated[
        bool, typer.Option("--static", help="A static list (fill it with import-csv).")
    ] = False,
    description: Annotated[str, typer.Option("--description")] = "",
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Create a dynamic segment from a definition, or an empty static list."""
    data = _definition(file, definition, required=not static)
    with db_session(make_settings(data_dir, database_url)) as session:
        p = find_project(session, project)
        try:
            segment = service.create_segment(
                session=session, project_id=p.id, name=name, description=description,
                kind="static" if static else "dynamic", definition=data,
            )  # fmt: skip
        except (SegmentError, NotFound) as exc:
            _fail(exc)
        _emit_segments([segment], fmt)


@app.command("preview")
@handle_errors
def preview_command(
    file: FileOpt = None,
    definition: DefinitionOpt = None,
    sample: Annotated[int, typer.Option("--sample", min=1, max=100)] = 10,
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Count the persons a draft definition matches now (nothing is saved)."""
    data = _definition(file, definition)
    settings = make_settings(data_dir, database_url)
    with db_session(settings) as session, event_store(settings) as store:
        p = find_project(session, project)
        try:
            result = service.preview(
                session=session, store=store, ctx=context_for(p), definition=data, sample=sample
            )
        except (SegmentError, NotFound) as exc:
            _fail(exc)
    if fmt == OutputFormat.json:
        write_json({"count": result.count, "sample": result.sample})
        return
    emit_rows(["person_id"], [[s] for s in result.sample], fmt, notes=[f"{result.count} persons"])


@app.command("refresh")
@handle_errors
def refresh_command(
    segment_id: Annotated[
        int | None, typer.Argument(help="Segment id; all dynamic segments when left out.")
    ] = None,
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Recompute a segment now and record who entered and left."""
    settings = make_settings(data_dir, database_url)
    with db_session(settings) as session, event_store(settings) as store:
        p = find_project(session, project)
        ctx = context_for(p)
        try:
            if segment_id is None:
                results = service.refresh_all(session=session, store=store, ctx=ctx)
            else:
                results = [
                    service.refresh_segment(
                        session=session, store=store, ctx=ctx, segment_id=segment_id
                    )
                ]
        except (SegmentError, NotFound) as exc:
            _fail(exc)
        except RefreshFailed as exc:
            raise CliError(str(exc), hint="The others were refreshed; see the log.") from None
    cols = ["segment_id", "members", "entered", "left", "at"]
    if fmt == OutputFormat.json:
        write_json([{c: getattr(r, c) for c in cols} for r in results])
        return
    emit_rows(cols, [[getattr(r, c) for c in cols] for r in results], fmt)


@app.command("export")
@handle_errors
def export_command(
    segment_id: SegmentArg,
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Write the members (person_id, distinct_ids) of the last refresh to a CSV file."""
    settings = make_settings(data_dir, database_url)
    with db_session(settings) as session, event_store(settings) as store:
        p = find_project(session, project)
        try:
            lines = service.export_csv(
                session=session, store=store, ctx=context_for(p), segment_id=segment_id
            )
            n = -1
            with out.open("w", encoding="utf-8", newline="") as f:
                for chunk in lines:
                    f.write(chunk)
                    n += chunk.count("\n")
        except (SegmentError, NotFound) as exc:
            _fail(exc)
    console.print(f"Wrote {n} members to {out}", highlight=False)


@app.command("import-csv")
@handle_errors
def import_command(
    segment_id: SegmentArg,
    file: Annotated[Path, typer.Argument(help="CSV with a person_id or distinct_id column.")],
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Replace a static segment's members with the persons a CSV file names."""
    if not file.is_file():
        raise CliError(f"no such file: {file}")
    settings = make_settings(data_dir, database_url)
    with db_session(settings) as session, event_store(settings) as store:
        p = find_project(session, project)
        try:
            r = service.import_csv(
                session=session, store=store, ctx=context_for(p), segment_id=segment_id,
                data=file.read_bytes(),
            )  # fmt: skip
        except (SegmentError, NotFound) as exc:
            _fail(exc)
    summary = {
        "column": r.column, "rows": r.rows, "matched": r.matched,
        "unknown_count": r.unknown_count, "entered": r.refresh.entered, "left": r.refresh.left,
    }  # fmt: skip
    if fmt == OutputFormat.json:
        write_json({**summary, "unknown": r.unknown})
        return
    notes = [f"Unknown ids: {', '.join(r.unknown[:20])}"] if r.unknown else []
    emit_rows(list(summary), [list(summary.values())], fmt, notes=notes)


@app.command("delete")
@handle_errors
def delete_command(
    segment_id: SegmentArg,
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Delete a segment and its history (system segments cannot be deleted)."""
    with db_session(make_settings(data_dir, database_url)) as session:
        p = find_project(session, project)
        try:
            service.delete_segment(session=session, project_id=p.id, segment_id=segment_id)
        except (SegmentError, NotFound) as exc:
            _fail(exc)
    console.print(f"Deleted segment {segment_id}", highlight=False)


@app.command("history")
@handle_errors
def history_command(
    segment_id: SegmentArg,
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Members, entered and left per refresh, oldest first."""
    with db_session(make_settings(data_dir, database_url)) as session:
        p = find_project(session, project)
        try:
            service.get_segment(session=session, project_id=p.id, segment_id=segment_id)
        except NotFound as exc:
            _fail(exc)
        runs = service.runs(session=session, segment_id=segment_id)
        cols = ["run_id", "at", "members", "entered", "left"]
        rows = [[getattr(r, c) for c in cols] for r in runs]
    if fmt == OutputFormat.json:
        write_json([dict(zip(cols, row, strict=True)) for row in rows])
        return
    emit_rows(cols, rows, fmt, title=f"Segment {segment_id} history")

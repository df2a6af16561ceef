"""``yunying import FILE``: load events from JSONL, CSV or Parquet with a progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from yunying.cli.common import (
    CliError,
    DatabaseUrlOpt,
    DataDirOpt,
    ProjectOpt,
    console,
    db_session,
    err_console,
    event_store,
    handle_errors,
    make_settings,
)
from yunying.cli.render import OutputFormat, emit_rows, write_json
from yunying.db.projects import find_project
from yunying.events.importer import ColumnMapping, ImportProgress, ImportSummary, import_file
from yunying.store.person_days import refresh_if_kept

SHOWN_REJECTS = 10


def parse_map_props(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        col, sep, prop = pair.partition("=")
        if not sep or not col.strip() or not prop.strip():
            raise CliError(f"--map-prop: expected COLUMN=PROPERTY, got {pair!r}")
        out[col.strip()] = prop.strip()
    return out


def _mapping(**given: object) -> ColumnMapping:
    """Only the flags that were given, so the defaults stay recognisable as defaults."""
    return ColumnMapping(**{k: v for k, v in given.items() if v is not None})  # type: ignore[arg-type]


@handle_errors
def import_command(
    file: Annotated[Path, typer.Argument(help="A .jsonl/.ndjson, .csv or .parquet file (.gz ok).")],
    project: ProjectOpt = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="jsonl, csv or parquet (default: by suffix).")
    ] = None,
    event_col: Annotated[str | None, typer.Option("--event-col")] = None,
    distinct_id_col: Annotated[str | None, typer.Option("--distinct-id-col")] = None,
    timestamp_col: Annotated[str | None, typer.Option("--timestamp-col")] = None,
    uuid_col: Annotated[str | None, typer.Option("--uuid-col")] = None,
    properties_col: Annotated[
        str | None, typer.Option("--properties-col", help="Column with a JSON object.")
    ] = None,
    map_prop: Annotated[
        list[str] | None,
        typer.Option("--map-prop", help="COLUMN=PROPERTY: store a column under another name."),
    ] = None,
    timestamp_format: Annotated[
        str | None,
        typer.Option(
            "--timestamp-format",
            help="auto, iso, epoch_s, epoch_ms or a strptime pattern; no zone means UTC.",
        ),
    ] = None,
    default_event: Annotated[
        str | None, typer.Option("--default-event", help="Event name for rows without one.")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 250_000,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="Summary as table, json or csv.")
    ] = OutputFormat.table,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Import events; re-importing the same file adds nothing."""
    if fmt is not None and fmt not in ("jsonl", "csv", "parquet"):
        raise CliError(f"--format: {fmt!r} is not one of jsonl, csv, parquet")
    mapping = _mapping(
        event=event_col,
        distinct_id=distinct_id_col,
        timestamp=timestamp_col,
        uuid=uuid_col,
        properties=properties_col,
        rename=parse_map_props(map_prop or []) or None,
        timestamp_format=timestamp_format,
        default_event=default_event,
    )
    if not file.is_file():
        raise CliError(f"no such file: {file}")
    settings = make_settings(data_dir, database_url)
    with db_session(settings) as session:
        found = find_project(session, project)
        project_id, timezone = found.id, found.timezone
    with event_store(settings) as store, _progress_bar() as bar:
        task = bar.add_task("importing", total=None)

        def on_progress(p: ImportProgress) -> None:
            bar.update(task, completed=p.done, total=p.total, rows=p.rows_read)

        summary = import_file(
            store,
            project_id=project_id,
            path=file,
            fmt=fmt,  # type: ignore[arg-type]
            mapping=mapping,
            batch_size=batch_size,
            progress=on_progress,
        )
        bar.update(task, description="summarising")  # day-grained metrics' table
        refresh_if_kept(store, project_id, timezone)
    _print_summary(summary, output)


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )


def _print_summary(s: ImportSummary, fmt: OutputFormat) -> None:
    counts = {
        "rows_read": s.rows_read,
        "imported": s.imported,
        "duplicates_skipped": s.duplicates,
        "rejected": s.rejected,
    }
    if fmt == OutputFormat.json:
        rejects = [{"row": r.row, "field": r.field, "reason": r.reason} for r in s.rejects]
        write_json({**counts, "rejects": rejects})
        return
    emit_rows(list(counts), [list(counts.values())], fmt, title="Import summary")
    if fmt == OutputFormat.table and s.rejected:
        console.print(f"[yellow]{s.rejected:,} rows rejected[/], the first ones:")
        for r in s.rejects[:SHOWN_REJECTS]:
            where = f"row {r.row}" if r.row else "row ?"
            console.print(f"  {where}: {r.field}: {r.reason}", highlight=False, markup=False)

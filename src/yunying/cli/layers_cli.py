"""``yunying layers …``: RFM groups, activity layers, transitions and their settings.

Reading commands open the event store read-only (they work beside nothing else holding
DuckDB's write lock); ``compute`` publishes the per-person values and needs it writable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from yunying.cli.common import (
    CliError,
    DatabaseUrlOpt,
    DataDirOpt,
    ProjectOpt,
    db_session,
    handle_errors,
    make_settings,
    parse_day,
    project_workspace,
    with_spinner,
)
from yunying.cli.query import read_spec
from yunying.cli.render import FormatOpt, OutputFormat, emit_rows, write_json
from yunying.db.projects import find_project
from yunying.people import layer_service as service
from yunying.people.layer_settings import GROUP_KEYS, LAYERS

app = typer.Typer(
    help="User layers (用户分层): RFM groups, activity layers, transitions.", no_args_is_help=True
)

T = TypeVar("T")
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="As-of local day, YYYY-MM-DD (default: today).", show_default=False
    ),
]
LimitOpt = Annotated[int, typer.Option("--limit", min=1, max=1000, help="Persons per page.")]
OffsetOpt = Annotated[int, typer.Option("--offset", min=0, help="Persons to skip.")]


def _run(
    project: str | None, data_dir: Any, database_url: Any, label: str, work: Callable[..., T],
    *, read_only: bool = True,
) -> T:  # fmt: skip
    """Open the project and stores, then run ``work(session, store, ctx)`` under a spinner."""
    with project_workspace(project, data_dir, database_url, read_only=read_only) as (
        _settings, session, store, ctx,
    ):  # fmt: skip
        return with_spinner(label, lambda: work(session, store, ctx))


def _emit_page(page: Any, cols: list[str], title: str, fmt: OutputFormat) -> None:
    """One page of persons; the note tells the total and which ones are shown."""
    if fmt == OutputFormat.json:
        write_json(page.model_dump(mode="json"))
        return
    rows = [[getattr(p, c) for c in cols] for p in page.persons]
    shown = f"{page.offset + 1}–{page.offset + len(rows)}" if rows else "none"
    emit_rows(cols, rows, fmt, title=title, notes=[f"{page.total} persons; showing {shown}"])


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:,.2f}"


@app.command("rfm")
@handle_errors
def rfm_command(
    project: ProjectOpt = None,
    as_of: AsOfOpt = None,
    persons: Annotated[
        str | None,
        typer.Option("--persons", help="List the persons of a group (a key, or 'all')."),
    ] = None,
    limit: LimitOpt = 50,
    offset: OffsetOpt = 0,
    fmt: FormatOpt = OutputFormat.table,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """The eight RFM groups (or one group's persons) as of a day."""
    day = parse_day(as_of, "--as-of")
    if persons is not None and persons != "all" and persons not in GROUP_KEYS:
        raise CliError(
            f"--persons: unknown group {persons!r}; one of: all, {', '.join(GROUP_KEYS)}"
        )
    if persons is not None:
        group = None if persons == "all" else persons
        page = _run(project, data_dir, database_url, "scoring buyers …", lambda se, st, c:
                    service.group_persons(session=se, store=st, ctx=c, group=group, as_of=day,
                                          limit=limit, offset=offset))  # fmt: skip
        cols = ["person_id", "recency", "frequency", "monetary", "r", "f", "m", "group"]
        _emit_page(page, cols, f"RFM {persons} as of {page.as_of}", fmt)
        return
    result = _run(project, data_dir, database_url, "scoring buyers …", lambda se, st, c:
                  service.rfm_summary(session=se, store=st, ctx=c, as_of=day))  # fmt: skip
    if fmt == OutputFormat.json:
        write_json(result.model_dump(mode="json"))
        return
    cols = ["group", "名称", "RFM", "persons", "share", "avg_recency", "avg_frequency",
            "avg_monetary", "revenue"]  # fmt: skip
    rows = [
        [g.key, g.name_zh, g.pattern, g.persons, _pct(g.share), _num(g.avg_recency),
         _num(g.avg_frequency), _num(g.avg_monetary), _num(g.revenue)]
        for g in result.groups
    ]  # fmt: skip
    ref = result.reference
    notes = [
        f"As of {result.as_of} (purchases since {result.window_from}); {result.buyers} buyers, "
        f"revenue {result.revenue:,.2f}; {result.scoring} scores, high = above the "
        f"{result.split} (R {_num(ref['r'])}, F {_num(ref['f'])}, M {_num(ref['m'])})."
    ]
    if fmt == OutputFormat.csv:
        rows = [[g.key, g.name_zh, g.pattern, g.persons, g.share, g.avg_recency,
                 g.avg_frequency, g.avg_monetary, g.revenue] for g in result.groups]  # fmt: skip
    emit_rows(cols, rows, fmt, title="RFM groups", notes=notes)


@app.command("activity")
@handle_errors
def activity_command(
    project: ProjectOpt = None,
    as_of: AsOfOpt = None,
    persons: Annotated[
        str | None,
        typer.Option("--persons", help="List the persons of a layer (a key, or 'all')."),
    ] = None,
    limit: LimitOpt = 50,
    offset: OffsetOpt = 0,
    fmt: FormatOpt = OutputFormat.table,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Persons per activity layer (or one layer's persons) as of a day."""
    day = parse_day(as_of, "--as-of")
    if persons is not None and persons != "all" and persons not in LAYERS:
        raise CliError(f"--persons: unknown layer {persons!r}; one of: all, {', '.join(LAYERS)}")
    if persons is not None:
        layer = None if persons == "all" else persons
        page = _run(project, data_dir, database_url, "computing layers …", lambda se, st, c:
                    service.layer_persons_page(session=se, store=st, ctx=c, layer=layer,
                                               as_of=day, limit=limit, offset=offset))  # fmt: skip
        cols = ["person_id", "layer", "last_active", "active_days"]
        _emit_page(page, cols, f"Layer {persons} as of {page.as_of}", fmt)
        return
    result = _run(project, data_dir, database_url, "computing layers …", lambda se, st, c:
                  service.layers_summary(session=se, store=st, ctx=c, as_of=day))  # fmt: skip
    if fmt == OutputFormat.json:
        write_json(result.model_dump(mode="json"))
        return
    share = (lambda x: x) if fmt == OutputFormat.csv else _pct
    rows = [[c.key, c.name_zh, c.persons, share(c.share)] for c in result.layers]
    emit_rows(["layer", "名称", "persons", "share"], rows, fmt, title="Activity layers",
              notes=[f"As of {result.as_of}: {result.persons} persons."])  # fmt: skip


@app.command("transitions")
@handle_errors
def transitions_command(
    project: ProjectOpt = None,
    period: Annotated[str, typer.Option("--period", help="week or month.")] = "week",
    day: Annotated[
        str | None,
        typer.Option(
            "--date", help="A day of the period to end at (default: today).", show_default=False
        ),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """The layer transition matrix from the previous week (or month) to this one."""
    if period not in ("week", "month"):
        raise CliError(f"--period: {period!r} is not week or month")
    when = parse_day(day, "--date")

    def work(se: Any, st: Any, c: Any) -> Any:
        try:
            return service.transitions(session=se, store=st, ctx=c, period=period, day=when)  # type: ignore[arg-type]
        except ValueError as exc:
            raise CliError(f"--date: {exc}") from None

    result = _run(project, data_dir, database_url, "comparing snapshots …", work)
    if fmt == OutputFormat.json:
        write_json(result.model_dump(mode="json"))
        return
    if fmt == OutputFormat.csv:
        rows = [[c.source, c.target, c.persons, c.row_share] for c in result.cells]
        rows += [["new", k, n, ""] for k, n in result.entered.items()]
        emit_rows(["from", "to", "persons", "row_share"], rows, fmt)
        return
    cols = ["from \\ to", *result.layers, "total"]
    rows = [
        [a, *(f"{result.count(a, b)} ({_pct(_share(result, a, b))})" for b in result.layers),
         result.row_totals[a]]
        for a in result.layers
    ]  # fmt: skip
    rows.append(["new", *(result.entered[b] for b in result.layers), sum(result.entered.values())])
    h = result.highlights
    notes = [
        f"{result.from_date} → {result.to_date}: {result.persons} persons in both snapshots; "
        f"went quiet {h.went_quiet}, newly churned {h.newly_churned}, came back {h.came_back}."
    ]
    emit_rows(cols, rows, fmt, title=f"Layer transitions ({result.period})", notes=notes)


def _share(result: Any, a: str, b: str) -> float:
    return next(c.row_share for c in result.cells if c.source == a and c.target == b)


@app.command("settings")
@handle_errors
def settings_command(
    project: ProjectOpt = None,
    set_doc: Annotated[
        str | None,
        typer.Option(
            "--set", help='Replace: JSON {"activity": {...}, "rfm": {...}} or @file.json.'
        ),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Show (or change) the layer rules and RFM settings."""
    data = read_spec(set_doc) if set_doc else None
    with db_session(make_settings(data_dir, database_url)) as session:
        project_id = find_project(session, project).id
        if data is not None:
            current = service.update_settings(session=session, project_id=project_id, data=data)
        else:
            current = service.settings_for(session, project_id)
    if fmt == OutputFormat.json:
        write_json(current.model_dump(mode="json"))
        return
    rows = [
        [f"{part}.{k}", v]
        for part in ("activity", "rfm")
        for k, v in getattr(current, part).model_dump(mode="json").items()
    ]
    emit_rows(["setting", "value"], rows, fmt, title="Layer settings")


@app.command("compute")
@handle_errors
def compute_command(
    project: ProjectOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = OutputFormat.table,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Compute RFM groups and activity layers for every person and publish them."""
    day = parse_day(as_of, "--as-of")
    report = _run(project, data_dir, database_url, "computing and publishing layers …",
                  lambda se, st, c: service.compute_and_publish(
                      store=st, ctx=c, settings=service.settings_for(se, c.project_id),
                      as_of=day), read_only=False)  # fmt: skip
    if fmt == OutputFormat.json:
        write_json(report.model_dump(mode="json"))
        return
    rows = [[r.name, r.run_id, r.persons] for r in report.runs]
    emit_rows(["published", "run_id", "persons"], rows, fmt, title="Layers computed",
              notes=[f"As of {report.as_of} in {report.seconds:.2f} s: {report.rfm.buyers} "
                     f"buyers, {report.layers.persons} persons."])  # fmt: skip

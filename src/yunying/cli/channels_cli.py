"""``yunying channels …``: the channel report, cost import and the stored costs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

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
)
from yunying.cli.render import FormatOpt, OutputFormat, emit_rows, write_json
from yunying.db.projects import find_project
from yunying.people import channel_costs as costs_svc
from yunying.people.channels import ChannelMetrics, ChannelQuery, channel_report

app = typer.Typer(
    help="Channel operations (渠道运营): attribution, costs, CAC and ROI.", no_args_is_help=True
)

FromOpt = Annotated[str | None, typer.Option("--from", help="First local day, YYYY-MM-DD.")]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last local day, YYYY-MM-DD.")]
REPORT_COLUMNS = [
    "channel", "new_persons", "activation_rate", "retention_d1", "retention_d7",
    "retention_d30", "paying_persons", "paying_rate", "revenue", "arpu", "cost", "cac", "roi",
]  # fmt: skip
# Short headers so the table fits a terminal; JSON and CSV keep the field names.
SHORT = [
    "channel", "new", "activated", "D1", "D7", "D30", "paying", "paying %", "revenue", "ARPU",
    "cost", "CAC", "ROI",
]  # fmt: skip
RATES = {"activation_rate", "retention_d1", "retention_d7", "retention_d30", "paying_rate", "roi"}


def _cell(name: str, value: Any, fmt: OutputFormat) -> Any:
    """Tables show rates as percentages and money with two decimals; CSV keeps raw values."""
    if fmt != OutputFormat.table or value is None or not isinstance(value, float):
        return value
    if name in RATES:
        return f"{100 * value:.1f}%"
    return f"{value:,.2f}"


def _rows(items: list[ChannelMetrics], fmt: OutputFormat) -> list[list[Any]]:
    return [[_cell(c, getattr(m, c), fmt) for c in REPORT_COLUMNS] for m in items]


@app.command("report")
@handle_errors
def report_command(
    project: ProjectOpt = None,
    model: Annotated[
        str, typer.Option("--model", "-m", help="first_touch (default) or last_touch.")
    ] = "first_touch",
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    activation_event: Annotated[
        str | None, typer.Option("--activation-event", help="Default: the project's.")
    ] = None,
    activation_days: Annotated[int, typer.Option("--activation-days")] = 7,
    conversion_event: Annotated[
        str | None,
        typer.Option("--conversion-event", help="Last touch: touches up to this event count."),
    ] = None,
    revenue_days: Annotated[
        int | None,
        typer.Option("--revenue-days", help="Revenue on the first N days (default: to date)."),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Per channel: new persons, activation, D1/D7/D30, paying, revenue, cost, CAC, ROI."""
    q = ChannelQuery.model_validate(
        {
            "model": model,
            "date_range": {
                "date_from": parse_day(date_from, "--from"),
                "date_to": parse_day(date_to, "--to"),
            },
            "activation_event": activation_event,
            "activation_days": activation_days,
            "conversion_event": conversion_event,
            "revenue_days": revenue_days,
        }
    )
    with project_workspace(project, data_dir, database_url, read_only=True) as (
        _settings, session, store, ctx,
    ):  # fmt: skip
        try:
            report = channel_report(session=session, store=store, ctx=ctx, query=q)
        except ValueError as exc:
            raise CliError(f"--from: {exc}") from exc
    if fmt == OutputFormat.json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        return
    notes = [
        f"{report.model} · {report.date_from} … {report.date_to}",
        f"activation: {report.activation_event or '(no activation event)'} "
        f"within {report.activation_days} days",
    ]
    if report.conversion_event:
        notes.append(f"last touch up to: {report.conversion_event}")
    if not report.has_costs:
        notes.append("no costs imported for this range: `yunying channels import-costs FILE`")
    rows = _rows([*report.channels, report.total], fmt)
    columns = SHORT if fmt == OutputFormat.table else REPORT_COLUMNS
    emit_rows(columns, rows, fmt, title="Channels", notes=notes)


def _print_import(result: costs_svc.ImportResult, fmt: OutputFormat) -> None:
    if fmt == OutputFormat.json:
        write_json(result.model_dump(mode="json"))
        return
    fields = ["rows", "inserted", "updated", "unchanged", "merged", "date_from", "date_to"]
    values = [[f, getattr(result, f)] for f in fields]
    values.append(["channels", ", ".join(result.channels)])
    emit_rows(["field", "value"], values, fmt, title="Costs imported")


@app.command("import-costs")
@handle_errors
def import_costs_command(
    file: Annotated[Path, typer.Argument(help="CSV with columns date, channel, cost[, currency].")],
    project: ProjectOpt = None,
    fmt: FormatOpt = OutputFormat.table,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Import channel costs; re-importing replaces the same day and channel (idempotent)."""
    if not file.is_file():
        raise CliError(f"FILE: no such file: {file}")
    data = file.read_bytes()
    settings = make_settings(data_dir, database_url)
    with db_session(settings) as session:
        project_id = find_project(session, project).id
        try:
            result = costs_svc.import_csv(session, project_id, data)
        except costs_svc.CostImportError as exc:
            session.rollback()
            lines = [f"row {e.row}, {e.field}: {e.message}" for e in exc.errors]
            raise CliError(
                f"{file}: nothing imported, {len(exc.errors)} problem(s):\n" + "\n".join(lines)
            ) from None
    _print_import(result, fmt)


@app.command("costs")
@handle_errors
def costs_command(
    project: ProjectOpt = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    channel: Annotated[str | None, typer.Option("--channel", help="Only this channel.")] = None,
    fmt: FormatOpt = OutputFormat.table,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """List imported costs (CSV output re-imports unchanged)."""
    d_from, d_to = parse_day(date_from, "--from"), parse_day(date_to, "--to")
    if d_from and d_to and d_from > d_to:
        raise CliError("--from: must not be after --to")
    settings = make_settings(data_dir, database_url)
    with db_session(settings) as session:
        project_id = find_project(session, project).id
        rows = costs_svc.list_costs(
            session, project_id, date_from=d_from, date_to=d_to, channel=channel
        )
    if fmt == OutputFormat.json:
        write_json([r.model_dump(mode="json") for r in rows])
        return
    if fmt == OutputFormat.csv:
        sys.stdout.write(costs_svc.costs_csv(rows))
        return
    table_rows = [[r.day, r.channel, f"{r.cost:,.2f}", r.currency or ""] for r in rows]
    total = sum(r.cost for r in rows)
    emit_rows(
        ["date", "channel", "cost", "currency"],
        table_rows,
        fmt,
        title="Channel costs",
        notes=[f"{len(rows)} rows, total {total:,.2f}"],
    )

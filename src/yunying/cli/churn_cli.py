"""``yunying churn …``: warning-line rules, evaluation, the classifier and BG/NBD.

Each command calls one function of ``people.churn_service`` and prints its result as a
table, JSON or CSV. Training and scoring show a Rich spinner with elapsed time.
"""

from __future__ import annotations

from typing import Annotated, TypeVar

import typer
from pydantic import BaseModel

from yunying.cli.common import (
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
from yunying.people import churn_service as svc
from yunying.people.churn_config import ModelSettings, load_config, save_rules, save_settings
from yunying.people.churn_rules import WarningRules

app = typer.Typer(
    help="Churn warning (流失预警): warning line, BG/NBD, churn model.", no_args_is_help=True
)

AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Local day YYYY-MM-DD (default: today).")
]
T = TypeVar("T")


def _fields(model: BaseModel, fmt: OutputFormat, title: str, skip: tuple[str, ...] = ()) -> None:
    """A flat report as field/value rows (JSON: the whole model)."""
    if fmt == OutputFormat.json:
        write_json(model.model_dump(mode="json"))
        return
    data = {k: v for k, v in model.model_dump(mode="json").items() if k not in skip}
    emit_rows(["field", "value"], [[k, v] for k, v in data.items()], fmt, title=title)


@app.command("rules")
@handle_errors
def rules_command(
    project: ProjectOpt = None,
    set_rules: Annotated[
        str | None,
        typer.Option("--set", help='Replace the rules: JSON {"rules": [...]} or @file.json.'),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Show (or replace) the warning-line rules."""
    new = WarningRules.model_validate(read_spec(set_rules)) if set_rules else None
    with db_session(make_settings(data_dir, database_url)) as session:
        project_id = find_project(session, project).id
        rules = (
            save_rules(session, project_id, new) if new else load_config(session, project_id).rules
        )
    if fmt == OutputFormat.json:
        write_json(rules.model_dump(mode="json"))
        return
    columns = [
        "key",
        "name",
        "inactive_days",
        "lookback_days",
        "min_active_days",
        "events",
        "enabled",
    ]
    rows = [[getattr(r, c) for c in columns] for r in rules.rules]
    emit_rows(columns, rows, fmt, title="Warning-line rules")


@app.command("settings")
@handle_errors
def settings_command(
    project: ProjectOpt = None,
    set_settings: Annotated[
        str | None,
        typer.Option("--set", help="Change settings: JSON object (or @file.json) of fields."),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Show (or change) the classifier and BG/NBD settings."""
    changes = read_spec(set_settings) if set_settings else None
    with db_session(make_settings(data_dir, database_url)) as session:
        project_id = find_project(session, project).id
        current = load_config(session, project_id).settings
        if changes is not None:
            merged = ModelSettings.model_validate({**current.model_dump(), **changes})
            current = save_settings(session, project_id, merged)
    _fields(current, fmt, "Churn settings")


@app.command("evaluate")
@handle_errors
def evaluate_command(
    project: ProjectOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = OutputFormat.table,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Evaluate the warning line and publish the persons over it (churn:warning)."""
    day = parse_day(as_of, "--as-of")
    with project_workspace(project, data_dir, database_url) as (_, session, store, ctx):
        result = svc.evaluate_warning(session=session, store=store, ctx=ctx, as_of=day)
    if fmt == OutputFormat.json:
        write_json(result.model_dump(mode="json"))
        return
    rows = [[key, n] for key, n in result.counts.items()]
    notes = [f"as of {result.as_of}: {result.total} persons over a warning line"]
    emit_rows(["rule", "persons"], rows, fmt, title="Warning line", notes=notes)


@app.command("warnings")
@handle_errors
def warnings_command(
    project: ProjectOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule's persons.")] = None,
    fmt: FormatOpt = OutputFormat.table,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """List the persons over the warning line (newest evaluation)."""
    with project_workspace(project, data_dir, database_url) as (_, _session, store, ctx):
        page = svc.warned_persons(
            store=store, project_id=ctx.project_id, limit=limit, offset=offset, rule=rule
        )
    if fmt == OutputFormat.json:
        write_json(page.model_dump(mode="json"))
        return
    rows = [[p.person_id, p.rule, p.churn_risk] for p in page.persons]
    emit_rows(["person_id", "rule", "churn_risk"], rows, fmt, notes=[f"total: {page.total}"])


@app.command("train")
@handle_errors
def train_command(
    project: ProjectOpt = None,
    today: Annotated[
        str | None, typer.Option("--today", help="Train as if on this day (default: today).")
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Train the churn classifier with a time-based split; print its validation metrics."""
    day = parse_day(today, "--today")
    with project_workspace(project, data_dir, database_url) as (settings, session, store, ctx):
        report = with_spinner(
            "training the churn model …",
            lambda: svc.train_model(
                session=session, store=store, ctx=ctx, data_dir=settings.data_dir, today=day
            ),
        )
    if fmt == OutputFormat.json:
        write_json(report.model_dump(mode="json"))
        return
    _fields(report, fmt, "Churn model", skip=("top_features", "features", "candidates"))
    rows = [[f.name, round(f.importance, 5)] for f in report.top_features]
    emit_rows(["feature", "importance"], rows, fmt, title="Top features")


@app.command("score")
@handle_errors
def score_command(
    project: ProjectOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = OutputFormat.table,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Score every active person with the trained model (score:churn_risk)."""
    day = parse_day(as_of, "--as-of")
    with project_workspace(project, data_dir, database_url) as (settings, session, store, ctx):
        report = with_spinner(
            "scoring persons …",
            lambda: svc.score_persons(
                session=session, store=store, ctx=ctx, data_dir=settings.data_dir, as_of=day
            ),
        )
    _fields(report, fmt, "Churn scores")


@app.command("bgnbd")
@handle_errors
def bgnbd_command(
    project: ProjectOpt = None,
    as_of: AsOfOpt = None,
    publish: Annotated[
        bool, typer.Option("--publish/--no-publish", help="Publish P(alive), expected purchases.")
    ] = True,
    fmt: FormatOpt = OutputFormat.table,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Fit BG/NBD on the purchase events; print r, alpha, a, b and the log-likelihood."""
    day = parse_day(as_of, "--as-of")
    with project_workspace(project, data_dir, database_url) as (_, session, store, ctx):
        report = with_spinner(
            "fitting BG/NBD …",
            lambda: svc.fit_bgnbd(
                session=session, store=store, ctx=ctx, as_of=day, publish=publish
            ),
        )
    _fields(report, fmt, "BG/NBD", skip=("p_alive_histogram",))

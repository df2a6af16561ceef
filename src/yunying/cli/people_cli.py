"""``yunying people show ID``: a person's profile (用户画像)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from yunying.cli.common import (
    CliError,
    DatabaseUrlOpt,
    DataDirOpt,
    ProjectOpt,
    handle_errors,
    project_workspace,
)
from yunying.cli.render import FormatOpt, OutputFormat, emit_rows
from yunying.insights.errors import NotFound
from yunying.insights.people import resolve_distinct_id
from yunying.people.profile import Profile, full_profile

app = typer.Typer(help="People (用户画像): profiles.", no_args_is_help=True)


def profile_fields(p: Profile) -> list[list[Any]]:
    """(field, value) rows: the facts first, then properties, event counts, segments."""
    a = p.attribution
    out: list[list[Any]] = [
        ["id", p.id],
        ["name", p.name],
        ["distinct_ids", ", ".join(p.distinct_ids)],
        ["first_seen", p.first_seen],
        ["last_seen", p.last_seen],
        ["events", p.events],
        ["active_days", p.active_days],
        ["first_touch", f"{a.first_touch.channel} ({a.first_touch.type})"],
        ["last_touch", f"{a.last_touch.channel} ({a.last_touch.type})"],
        ["lifecycle", f"{p.lifecycle.stage or '—'} ({p.lifecycle.interval})"],
    ]
    optional = {
        "activity_layer": p.activity_layer,
        "rfm_group": p.rfm_group,
        "churn_risk": p.churn_risk,
        "p_alive": p.p_alive,
        "expected_purchases_30d": p.expected_purchases_30d,
        "churn_warning": p.churn_warning,
    }
    out += [[k, v] for k, v in optional.items() if v is not None]
    if p.segments:
        out.append(["segments", ", ".join(s.name or f"#{s.segment_id}" for s in p.segments)])
    out += [[f"property.{k}", v] for k, v in sorted(p.properties.items())]
    out += [[f"events.{c.event}", c.count] for c in p.event_counts]
    return out


@app.command("show")
@handle_errors
def show_command(
    person: Annotated[str, typer.Argument(help="Person id (or a distinct id with -d).")],
    distinct_id: Annotated[
        bool, typer.Option("--distinct-id", "-d", help="PERSON is a distinct id.")
    ] = False,
    project: ProjectOpt = None,
    fmt: FormatOpt = OutputFormat.table,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Properties, first/last touch, activity, lifecycle, layer, scores and segments."""
    with project_workspace(project, data_dir, database_url, read_only=True) as (
        _settings, session, store, ctx,
    ):  # fmt: skip
        try:
            person_id = resolve_distinct_id(store, ctx, person) if distinct_id else person
            profile = full_profile(store, ctx, person_id, session=session, recent=10)
        except NotFound:
            kind = "distinct id" if distinct_id else "person"
            raise CliError(
                f"PERSON: no {kind} {person!r} in this project",
                hint="Find ids with the console's People page or `--distinct-id`.",
            ) from None
    if fmt == OutputFormat.json:
        sys.stdout.write(profile.model_dump_json(indent=2) + "\n")
        return
    emit_rows(["field", "value"], profile_fields(profile), fmt, title=profile.name)

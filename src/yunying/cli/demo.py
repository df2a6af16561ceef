"""``yunying demo``: load a seeded synthetic content community into a project."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from yunying.cli.common import (
    CliError,
    DataDirOpt,
    console,
    db_session,
    event_store,
    handle_errors,
    make_settings,
)
from yunying.db.projects import ProjectError, get_project
from yunying.demo import DemoSummary, load_demo

PersonsOpt = Annotated[int, typer.Option("--persons", min=1, help="Signed-up persons to simulate.")]
DaysOpt = Annotated[int, typer.Option("--days", min=1, max=3650, help="Days of history.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed: same seed, same data.")]
DemoProjectOpt = Annotated[int, typer.Option("--project", "-p", help="Project id to load into.")]
EndOpt = Annotated[
    str | None,
    typer.Option(
        "--end",
        help="Last day (YYYY-MM-DD, project time zone); default today, up to now.",
        show_default=False,
    ),
]


def _parse_end(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(f"--end: {value!r} is not a date like 2024-06-30") from None


@handle_errors
def demo_command(
    persons: PersonsOpt = 50_000,
    days: DaysOpt = 90,
    seed: SeedOpt = 7,
    project: DemoProjectOpt = 1,
    data_dir: DataDirOpt = None,
    end: EndOpt = None,
) -> None:
    """Generate a realistic content-community app's events and import them.

    Re-running with the same options adds nothing (event ids come from the seed).

    Without --end the window ends now, and a run on another day is a new window.

    Pass --end for data that must not change. See docs/demo.md.
    """
    last_day = _parse_end(end)
    settings = make_settings(data_dir)
    with db_session(settings) as session:
        try:
            found = get_project(session, project)
        except ProjectError:
            raise CliError(
                f"project {project} does not exist",
                hint="Run `yunying init` first (with the same --data-dir), or pass --project.",
            ) from None
        timezone, activation = found.timezone, found.activation_event
    with event_store(settings) as store, _progress() as bar:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                label = {"generate": "Generating", "import": "Importing "}.get(stage, "Summarising")
                tasks[stage] = bar.add_task(label, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        summary = load_demo(
            settings,
            store,
            project_id=project,
            persons=persons,
            days=days,
            seed=seed,
            end=last_day,
            progress=report,
            timezone=timezone,
        )
    from yunying.demo.costs import load_demo_costs

    cost_rows = load_demo_costs(settings, project, summary)  # the channel page's CAC and ROI
    _print_summary(summary, project, activation)
    console.print(f"[dim]Channel costs: {cost_rows:,} daily rows (yunying channels costs).[/]")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _print_summary(s: DemoSummary, project: int, activation: str | None) -> None:
    table = Table(title=f"Demo loaded into project {project}", show_header=False)
    table.add_row("days", f"{s.date_from} … {s.date_to} ({s.timezone})")
    table.add_row("persons signed up", f"{s.persons:,} ({s.referred:,} through invites/shares)")
    table.add_row("anonymous visitors", f"{s.visitors:,} (never signed up)")
    table.add_row("events generated", f"{s.events:,} in {s.generate_seconds:.1f} s")
    table.add_row("events new in store", f"{s.inserted or 0:,} in {s.load_seconds or 0:.1f} s")
    top = ", ".join(f"{k} {v:,}" for k, v in list(s.by_event.items())[:6])
    table.add_row("most common", top)
    console.print(table)
    if s.inserted == 0:
        console.print("[dim]Nothing new: this demo (same options) was already loaded.[/]")
    if activation is None:
        console.print(
            f"[dim]Tip: the demo's activation event is '{s.activation_event}' and its signup "
            f"event '{s.signup_event}'; set the project's activation event to match.[/]"
        )

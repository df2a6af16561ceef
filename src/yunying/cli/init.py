"""``yunying init``: create the data folder, the stores, and the first project with keys."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.panel import Panel

from yunying.cli.common import (
    CliError,
    DatabaseUrlOpt,
    DataDirOpt,
    console,
    event_store,
    handle_errors,
    make_settings,
    redact,
)
from yunying.config import Settings
from yunying.db.bootstrap import BootstrapResult, bootstrap

WEEK_STARTS = {"1": 1, "7": 7, "mon": 1, "monday": 1, "sun": 7, "sunday": 7}

ProjectNameOpt = Annotated[str, typer.Option("--project-name", help="Name of the first project.")]
TimezoneOpt = Annotated[
    str | None,
    typer.Option("--timezone", help="IANA time zone of the first project (default Asia/Shanghai)."),
]
WeekStartOpt = Annotated[
    str, typer.Option("--week-start", help="First day of the week: monday or sunday.")
]


def parse_week_start(value: str) -> int:
    try:
        return WEEK_STARTS[value.strip().lower()]
    except KeyError:
        raise CliError(f"--week-start: {value!r} is not monday or sunday") from None


def run_init(
    settings: Settings, *, project_name: str, timezone: str | None, week_start: str
) -> BootstrapResult:
    """Initialise (or find initialised) stores and print what the user needs to know."""
    result = bootstrap(
        settings,
        project_name=project_name,
        timezone=timezone,
        week_start=parse_week_start(week_start),
    )
    if result.created:
        with event_store(settings):
            pass  # creates the event store's tables
        print_new_credentials(result)
    return result


def print_new_credentials(result: BootstrapResult) -> None:
    console.print(
        Panel.fit(
            f"Project [bold]{result.project_id}[/] ({result.project_name}) created.\n\n"
            f"Public key (ingest, safe in apps): [bold green]{result.public_key}[/]\n"
            f"Secret key (API, keep private):     [bold yellow]{result.secret_key}[/]\n"
            f"Console sign-in: [bold]{result.owner_email}[/] / "
            f"[bold yellow]{result.owner_password}[/] (change it after signing in)\n\n"
            "The secret key and password are shown only this once. A copy is in\n"
            f"{result.credentials_path} (mode 0600).",
            title="Yunying is ready",
        )
    )


@handle_errors
def init_command(
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    project_name: ProjectNameOpt = "Default",
    timezone: TimezoneOpt = None,
    week_start: WeekStartOpt = "monday",
) -> None:
    """Create the data folder, the operational and event stores, and a first project."""
    settings = make_settings(data_dir, database_url)
    result = run_init(settings, project_name=project_name, timezone=timezone, week_start=week_start)
    if not result.created:
        console.print(
            f"Already initialised: project {result.project_id} ({result.project_name}) in "
            f"{redact(settings.resolved_database_url)}. Nothing to do.",
            highlight=False,
        )

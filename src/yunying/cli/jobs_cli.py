"""``yunying jobs …`` (list, run one now) and ``yunying worker`` (consume the queue)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from yunying.cli.common import (
    CliError,
    DatabaseUrlOpt,
    DataDirOpt,
    ProjectOpt,
    console,
    db_session,
    handle_errors,
    make_settings,
)
from yunying.cli.render import OutputFormat, emit_rows, write_json

app = typer.Typer(help="Background jobs: list them, run one now.", no_args_is_help=True)

FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Output: table, json or csv.")
]


@app.command("list")
@handle_errors
def list_command(fmt: FormatOpt = OutputFormat.table) -> None:
    """List the registered jobs and when they run."""
    from yunying.jobs.registry import all_jobs

    jobs = sorted(all_jobs().values(), key=lambda j: j.name)
    rows = [[j.name, j.schedule, j.description] for j in jobs]
    emit_rows(["name", "schedule", "description"], rows, fmt, title="Jobs")


@app.command("run")
@handle_errors
def run_command(
    name: Annotated[str, typer.Argument(help="Job name (see `yunying jobs list`).")],
    project: ProjectOpt = None,
    all_projects: Annotated[
        bool, typer.Option("--all-projects", help="Run for every project.")
    ] = False,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Run one job now, in this process (for one project, or all)."""
    from yunying.db.projects import find_project, list_projects
    from yunying.jobs.registry import all_jobs, run_job

    jobs = all_jobs()
    if name not in jobs:
        raise CliError(f"no job named {name!r}", hint=f"Known jobs: {', '.join(sorted(jobs))}")
    settings = make_settings(data_dir, database_url)
    with db_session(settings) as session:
        if all_projects:
            ids = [p.id for p in list_projects(session)]
        else:
            ids = [find_project(session, project).id]
    results: list[dict[str, Any]] = []
    for project_id in ids:
        try:
            result = run_job(settings, name, project_id)
        except Exception as exc:
            if "lock" in str(exc).lower() and settings.event_store == "duckdb":
                raise CliError(
                    f"the event store {settings.duckdb_path} is in use by another process",
                    hint="With DuckDB, stop the server first, or let the server run jobs "
                    "(YUNYING_EMBEDDED_WORKER=1).",
                ) from exc
            raise
        results.append({"project_id": project_id, "job": name, "result": result})
    if fmt == OutputFormat.json:
        write_json(results)
        return
    emit_rows(
        ["project_id", "job", "result"],
        [[r["project_id"], r["job"], r["result"]] for r in results],
        fmt,
    )


@handle_errors
def worker_command(
    workers: Annotated[int, typer.Option("--workers", min=1, max=32, help="Worker threads.")] = 2,
    periodic: Annotated[
        bool, typer.Option("--periodic/--no-periodic", help="Also run the hourly/daily jobs.")
    ] = True,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Consume the job queue (SQLite file in the data folder, or YUNYING_REDIS_URL)."""
    import logging

    from yunying.jobs.queue import run_worker

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = make_settings(data_dir, database_url)
    with db_session(settings):
        pass  # a clear error now if the store is missing
    where = (settings.redis_url and "Redis") or str(settings.data_dir / "jobs.sqlite3")
    console.print(f"Yunying worker: {workers} thread(s), queue in {where} (Ctrl+C to stop)")
    run_worker(settings, workers=workers, periodic=periodic)

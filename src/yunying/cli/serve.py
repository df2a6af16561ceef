"""``yunying serve`` and ``yunying up``: run the API (and console) with uvicorn.

``up`` is the README's one command: initialise if needed, load demo data into an empty
event store, then serve. Every step it takes is also a command of its own.
"""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from yunying.cli.common import (
    CliError,
    DatabaseUrlOpt,
    DataDirOpt,
    console,
    err_console,
    event_store,
    handle_errors,
    make_settings,
)
from yunying.cli.init import ProjectNameOpt, TimezoneOpt, WeekStartOpt, run_init
from yunying.config import Settings

# Small enough that a first `yunying up` is ready in well under a minute (~400k events);
# `yunying demo` makes the full-size product.
UP_DEMO_PERSONS = 5_000

HostOpt = Annotated[
    str | None,
    typer.Option(
        "--host", envvar="YUNYING_HOST", help="Interface to listen on.", show_default=False
    ),
]
PortOpt = Annotated[
    int | None,
    typer.Option("--port", envvar="YUNYING_PORT", help="Port to listen on.", show_default=False),
]


def check_port_free(host: str, port: int) -> None:
    """Fail early with a clear message instead of uvicorn's after start-up."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise CliError(
                f"cannot listen on {host}:{port} ({exc.strerror})",
                hint="Another server may be running there; pick another --port.",
            ) from exc


def base_url(settings: Settings) -> str:
    host = settings.host
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://{'[' + shown + ']' if ':' in shown else shown}:{settings.port}"


def run_server(settings: Settings) -> None:
    """Serve until interrupted (the app opens the stores in its lifespan)."""
    import uvicorn

    from yunying.api.app import create_app

    check_port_free(settings.host, settings.port)
    if settings.embedded_worker is None:
        separate = bool(
            settings.redis_url and settings.event_store == "clickhouse" and settings.clickhouse_url
        )
        settings = settings.model_copy(update={"embedded_worker": not separate})
    with event_store(settings):
        pass  # fail here, clearly, if another process holds the event store
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,  # a log line per ingest request costs more than the request
    )


@handle_errors
def serve_command(
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    host: HostOpt = None,
    port: PortOpt = None,
) -> None:
    """Run the HTTP API and console."""
    settings = make_settings(data_dir, database_url, host=host, port=port)
    console.print(f"Serving Yunying on [bold]{base_url(settings)}[/] (Ctrl+C to stop)")
    run_server(settings)


def load_demo_if_empty(
    settings: Settings,
    project_id: int,
    *,
    timezone: str,
    persons: int | None,
    days: int | None,
    seed: int | None,
) -> str:
    """Fill an empty event store with the demo product; say what happened."""
    from yunying.events.importer import count_events

    try:
        from yunying.demo import load_demo
    except ImportError:
        return "Demo data is not available in this installation; the project starts empty."
    with event_store(settings) as store:
        if count_events(store, project_id) > 0:
            return "The event store already has events: demo data not loaded."
        wanted = {"persons": persons, "days": days, "seed": seed}
        kwargs = {k: v for k, v in wanted.items() if v is not None}
        err_console.print("Generating demo data (first run only)…")
        try:
            summary = load_demo(settings, store, project_id=project_id, timezone=timezone, **kwargs)
            from yunying.demo.costs import load_demo_costs

            load_demo_costs(settings, project_id, summary)  # the channel page's CAC and ROI
        except Exception as exc:  # the demo is optional: say so instead of a traceback
            raise CliError(
                f"demo data could not be loaded ({type(exc).__name__}: {exc})",
                hint="Start without it: `yunying up --no-demo`; load it later with "
                "`yunying demo` (re-running adds only what is missing).",
            ) from exc
        n = count_events(store, project_id)
    return f"Loaded demo data: {n:,} events."


@handle_errors
def up_command(
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    host: HostOpt = None,
    port: PortOpt = None,
    demo: Annotated[
        bool, typer.Option("--demo/--no-demo", help="Load demo data into an empty store.")
    ] = True,
    demo_persons: Annotated[
        int, typer.Option("--demo-persons", min=1, help="Demo population (~80 events each).")
    ] = UP_DEMO_PERSONS,
    demo_days: Annotated[
        int | None, typer.Option("--demo-days", min=1, help="Days of demo history.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Demo random seed.")] = None,
    project_name: ProjectNameOpt = "Default",
    timezone: TimezoneOpt = None,
    week_start: WeekStartOpt = "monday",
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Start the server at the end.")
    ] = True,
) -> None:
    """Initialise if needed, load demo data into an empty store, and serve."""
    settings = make_settings(data_dir, database_url, host=host, port=port)
    if serve:
        check_port_free(settings.host, settings.port)
    result = run_init(settings, project_name=project_name, timezone=timezone, week_start=week_start)
    if demo:
        console.print(
            load_demo_if_empty(
                settings,
                result.project_id,
                timezone=result.timezone,
                persons=demo_persons,
                days=demo_days,
                seed=seed,
            ),
            highlight=False,
        )
    url = base_url(settings)
    where = (
        f"in {result.credentials_path}"
        if result.credentials_path.exists()
        else "shown once at first run; make a new one with `yunying projects create-key`"
    )
    console.print(
        f"\nYunying: [bold]{url}[/]  (API docs: {url}/docs)\n"
        f"Project {result.project_id} ({result.project_name})\n"
        f"Public key:  {result.public_key}\n"
        f"Secret key:  {where}\n",
        highlight=False,
    )
    if serve:
        run_server(settings)

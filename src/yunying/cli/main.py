"""The ``yunying`` command: one Typer app, one module per command group."""

from __future__ import annotations

import typer

from yunying.cli import (
    channels_cli,
    churn_cli,
    jobs_cli,
    layers_cli,
    people_cli,
    projects,
    segments_cli,
)
from yunying.cli.importer import import_command
from yunying.cli.init import init_command
from yunying.cli.query import query_command
from yunying.cli.serve import serve_command, up_command

app = typer.Typer(
    name="yunying",
    help="Yunying (运营): self-hosted operations analytics. Start with `yunying up`.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold keys
    add_completion=False,
)

app.command("up")(up_command)
app.command("init")(init_command)
app.command("serve")(serve_command)
app.command("import")(import_command)
app.command("query")(query_command)
app.add_typer(projects.app, name="projects")
app.add_typer(segments_cli.app, name="segments")
app.add_typer(layers_cli.app, name="layers")
app.add_typer(churn_cli.app, name="churn")
app.add_typer(channels_cli.app, name="channels")
app.add_typer(people_cli.app, name="people")
app.add_typer(jobs_cli.app, name="jobs")
app.command("worker")(jobs_cli.worker_command)

try:  # the demo command ships with the demo package; the CLI works without it
    from yunying.cli.demo import demo_command
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the installation
    if exc.name not in ("yunying.cli.demo", "yunying.demo"):
        raise
else:
    app.command("demo")(demo_command)


if __name__ == "__main__":  # pragma: no cover
    app()

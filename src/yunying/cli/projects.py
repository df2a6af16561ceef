"""``yunying projects …``: list, create and configure projects; manage their API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from yunying.cli.common import (
    DatabaseUrlOpt,
    DataDirOpt,
    ProjectOpt,
    console,
    db_session,
    handle_errors,
    make_settings,
)
from yunying.cli.init import parse_week_start
from yunying.cli.render import OutputFormat, emit_rows, write_json
from yunying.db import projects as svc
from yunying.db.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    ProjectPublic,
    ProjectUpdate,
)

app = typer.Typer(help="Projects and their API keys.", no_args_is_help=True)

FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Output: table, json or csv.")
]
PROJECT_COLUMNS = [
    "id", "name", "timezone", "week_start", "activation_event", "revenue_property", "created_at",
]  # fmt: skip
KEY_COLUMNS = ["id", "kind", "name", "prefix", "token", "created_at", "revoked_at"]


def _project_rows(projects: list[ProjectPublic]) -> list[list[object]]:
    return [[getattr(p, c) for c in PROJECT_COLUMNS] for p in projects]


def key_public(key: object) -> ApiKeyPublic:
    view = ApiKeyPublic.model_validate(key)
    return view.model_copy(update={"token": getattr(key, "public_token", None)})


def _print_new_key(key: ApiKeyCreated, fmt: OutputFormat) -> None:
    if fmt == OutputFormat.json:
        write_json(key.model_dump())
        return
    if fmt == OutputFormat.csv:
        emit_rows(["id", "kind", "name", "token"], [[key.id, key.kind, key.name, key.token]], fmt)
        return
    console.print(f"Created {key.kind} key {key.id}: [bold]{key.token}[/]", highlight=False)
    if key.kind == "secret":
        console.print("[yellow]This secret key is shown only now: store it safely.[/]")


@app.command("list")
@handle_errors
def list_command(
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """List projects."""
    with db_session(make_settings(data_dir, database_url)) as session:
        projects = [ProjectPublic.model_validate(p) for p in svc.list_projects(session)]
    emit_rows(PROJECT_COLUMNS, _project_rows(projects), fmt, title="Projects")


@app.command("create")
@handle_errors
def create_command(
    name: Annotated[str, typer.Argument(help="Project name.")],
    timezone: Annotated[str, typer.Option("--timezone", help="IANA time zone.")] = "Asia/Shanghai",
    week_start: Annotated[str, typer.Option("--week-start", help="monday or sunday.")] = "monday",
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Create a project with a public and a secret key (the secret is shown once)."""
    with db_session(make_settings(data_dir, database_url)) as session:
        project, public, secret = svc.create_project(
            session, name=name, timezone=timezone, week_start=parse_week_start(week_start)
        )
        view = ProjectPublic.model_validate(project)
    keys = {"public_key": public.token, "secret_key": secret.token}
    if fmt == OutputFormat.json:
        write_json({**view.model_dump(), **keys})
        return
    if fmt == OutputFormat.csv:
        emit_rows([*PROJECT_COLUMNS, *keys], [[*_project_rows([view])[0], *keys.values()]], fmt)
        return
    console.print(f"Created project [bold]{view.id}[/] ({view.name}).", highlight=False)
    console.print(f"Public key: [bold green]{public.token}[/]", highlight=False)
    console.print(f"Secret key: [bold yellow]{secret.token}[/]", highlight=False)
    console.print("[yellow]The secret key is shown only now: store it safely.[/]")


@app.command("update")
@handle_errors
def update_command(
    project: ProjectOpt = None,
    name: Annotated[str | None, typer.Option("--name")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone")] = None,
    week_start: Annotated[
        str | None, typer.Option("--week-start", help="monday or sunday.")
    ] = None,
    activation_event: Annotated[
        str | None, typer.Option("--activation-event", help="Empty string clears it.")
    ] = None,
    revenue_property: Annotated[str | None, typer.Option("--revenue-property")] = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Change a project's settings (time zone, week start, activation event, revenue)."""
    changes = ProjectUpdate(
        name=name,
        timezone=timezone,
        week_start=None if week_start is None else parse_week_start(week_start),
        activation_event=activation_event,
        revenue_property=revenue_property,
    )
    with db_session(make_settings(data_dir, database_url)) as session:
        target = svc.find_project(session, project)
        svc.update_project(session, project=target, changes=changes.model_dump(exclude_unset=True))
        view = ProjectPublic.model_validate(target)
    emit_rows(PROJECT_COLUMNS, _project_rows([view]), fmt, title="Project updated")


@app.command("keys")
@handle_errors
def keys_command(
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """List a project's API keys (public keys in full, secret keys by prefix)."""
    with db_session(make_settings(data_dir, database_url)) as session:
        target = svc.find_project(session, project)
        keys = [key_public(k) for k in svc.list_api_keys(session, target.id)]
        title = f"API keys of project {target.id} ({target.name})"
    rows = [[getattr(k, c) for c in KEY_COLUMNS] for k in keys]
    emit_rows(KEY_COLUMNS, rows, fmt, title=title)


@app.command("create-key")
@handle_errors
def create_key_command(
    project: ProjectOpt = None,
    kind: Annotated[str, typer.Option("--kind", help="secret or public.")] = "secret",
    name: Annotated[str, typer.Option("--name", help="A label for the key.")] = "",
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Create an API key (a secret key is shown only once)."""
    request = ApiKeyCreate(kind=kind, name=name)  # type: ignore[arg-type]
    with db_session(make_settings(data_dir, database_url)) as session:
        target = svc.find_project(session, project)
        new = svc.create_api_key(
            session, project_id=target.id, kind=request.kind, name=request.name
        )
    _print_new_key(
        ApiKeyCreated(id=new.id, kind=request.kind, name=request.name, token=new.token), fmt
    )


@app.command("revoke-key")
@handle_errors
def revoke_key_command(
    key_id: Annotated[int, typer.Argument(help="Id of the key (see `projects keys`).")],
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Revoke an API key: requests using it are refused from now on."""
    with db_session(make_settings(data_dir, database_url)) as session:
        target = svc.find_project(session, project)
        svc.revoke_api_key(session, project_id=target.id, key_id=key_id)
    console.print(f"Revoked key {key_id} of project {target.id}.", highlight=False)

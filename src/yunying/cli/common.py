"""What every command shares: options, settings, stores, and turning errors into messages.

Why one error funnel: a user mistake (bad flag value, missing file, server holding the
event store) must end as one red line and exit code 2, never a traceback; only real bugs
may still show one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session

from yunying.analytics.context import ProjectContext
from yunying.config import Settings, get_settings
from yunying.store.base import EventStore

console = Console()
err_console = Console(stderr=True)

USER_ERROR = 2

DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="YUNYING_DATA_DIR",
        help="Folder for the embedded stores (default ./yunying-data).",
        show_default=False,
    ),
]
DatabaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="YUNYING_DATABASE_URL",
        help="Operational store URL, e.g. postgresql://user@host:5432/db "
        "(default: SQLite in the data folder).",
        show_default=False,
    ),
]
ProjectOpt = Annotated[
    str | None,
    typer.Option(
        "--project",
        "-p",
        help="Project id or name (default: the only project).",
        show_default=False,
    ),
]


class CliError(Exception):
    """A user error: printed in red, exit code 2."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def fail(message: str, hint: str | None = None) -> NoReturn:
    err_console.print(
        f"[bold red]Error:[/] {message}", markup=True, highlight=False, soft_wrap=True
    )
    if hint:
        err_console.print(f"[dim]{hint}[/]", highlight=False, soft_wrap=True)
    raise typer.Exit(USER_ERROR)


def describe_validation(exc: ValidationError, prefix: str = "") -> str:
    """``field.path: message`` per problem, so the user sees which field is wrong."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if p not in ("body",))
        where = ".".join(p for p in (prefix, loc) if p) or "value"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


P = ParamSpec("P")
R = TypeVar("R")


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so known user errors print a message instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except CliError as exc:
            fail(str(exc), exc.hint)
        except ValidationError as exc:
            fail(describe_validation(exc))
        except Exception as exc:
            message = user_message(exc)
            if message is None:
                raise
            fail(message)

    return wrapper


def user_message(exc: Exception) -> str | None:
    """The message for an exception that is the user's to fix, or None for a bug."""
    from sqlalchemy.exc import OperationalError as SAOperationalError

    from yunying.db.projects import ProjectError
    from yunying.events.importer import ImportFileError
    from yunying.people.bgnbd import BgNbdError
    from yunying.people.churn_model import ChurnModelError

    if isinstance(exc, ProjectError | ImportFileError | ChurnModelError | BgNbdError):
        return str(exc)
    if isinstance(exc, SAOperationalError):
        return f"cannot use the operational store: {str(exc.orig).strip().splitlines()[0]}"
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
        return f"{exc.strerror}: {exc.filename}"
    if type(exc).__module__.startswith(("duckdb", "_duckdb")):
        return f"event store error: {exc}"
    return None


def make_settings(
    data_dir: Path | None = None, database_url: str | None = None, **overrides: Any
) -> Settings:
    """Settings from the environment, with the command-line flags that were given."""
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url:
        overrides["database_url"] = database_url
    return get_settings(**{k: v for k, v in overrides.items() if v is not None})


def redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database url>"


@contextmanager
def db_session(settings: Settings) -> Iterator[Session]:
    """A unit of work on an initialised operational store (migrated to head if behind)."""
    from yunying.db.migrate import current_revision, head_revision, upgrade
    from yunying.db.session import make_engine, make_sessionmaker, session_scope

    url = settings.resolved_database_url
    revision = current_revision(url)
    if revision is None:
        raise CliError(
            f"no Yunying store at {redact(url)}",
            hint="Run `yunying init` first (with the same --data-dir / --database-url).",
        )
    if revision != head_revision():
        upgrade(url)
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            yield session
    finally:
        engine.dispose()


LOCK_HINT = (
    "DuckDB lets only one process open the event store. If `yunying serve` (or `up`) is "
    "running, use the HTTP API instead (POST /api/projects/<id>/query, see docs/api.md) "
    "or stop the server first."
)


@contextmanager
def event_store(settings: Settings, *, read_only: bool = False) -> Iterator[EventStore]:
    """Open the configured event store; a file held by another process is a clear error."""
    from yunying.store.base import open_event_store

    if settings.event_store == "duckdb" and read_only and not settings.duckdb_path.exists():
        raise CliError(
            f"no event store at {settings.duckdb_path}",
            hint="Run `yunying init`, then import or send events.",
        )
    try:
        store = open_event_store(settings, read_only=read_only)
    except Exception as exc:
        text = str(exc)
        if "lock" in text.lower() and type(exc).__module__.startswith(("duckdb", "_duckdb")):
            raise CliError(
                f"the event store {settings.duckdb_path} is in use by another process",
                hint=LOCK_HINT,
            ) from exc
        raise
    try:
        yield store
    finally:
        store.close()


# ---- shared by the command groups -----------------------------------------------------------
def parse_day(value: str | None, flag: str) -> date | None:
    """A ``YYYY-MM-DD`` option, or a CLI error naming the flag."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(f"{flag}: {value!r} is not a date (YYYY-MM-DD)") from None


def with_spinner(label: str, work: Callable[[], R]) -> R:
    """Run ``work`` under a transient Rich spinner (long queries, training)."""
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=err_console, transient=True,
    ) as progress:  # fmt: skip
        progress.add_task(label, total=None)
        return work()


@contextmanager
def project_workspace(
    project: str | None, data_dir: Any, database_url: Any, *, read_only: bool = False
) -> Iterator[tuple[Settings, Session, EventStore, ProjectContext]]:
    """Settings, an operational-store session, the event store and the chosen project's
    context: what every command that works on one project's people needs."""
    from yunying.db.projects import context_for, find_project

    settings = make_settings(data_dir, database_url)
    with db_session(settings) as session:
        ctx = context_for(find_project(session, project))
        with event_store(settings, read_only=read_only) as store:
            yield settings, session, store, ctx

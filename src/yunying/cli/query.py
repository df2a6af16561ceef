"""``yunying query METRIC``: run any registered metric from a JSON spec plus common flags.

The spec is the same JSON the HTTP API takes (``kind`` may be left out); ``--event``,
``--from``, ``--to`` and ``--interval`` fill the fields most metrics share, so quick
questions need no JSON at all.
"""

from __future__ import annotations

import json
import types
import typing
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from yunying.analytics.registry import load_metric, metric_kinds
from yunying.cli.common import (
    CliError,
    DatabaseUrlOpt,
    DataDirOpt,
    ProjectOpt,
    db_session,
    event_store,
    handle_errors,
    make_settings,
)
from yunying.cli.render import OutputFormat, emit_model
from yunying.db.projects import context_for, find_project


def read_spec(spec: str | None) -> dict[str, Any]:
    """``--spec`` as JSON text or ``@path/to/file.json``."""
    if not spec:
        return {}
    text = spec
    if spec.startswith("@"):
        path = Path(spec[1:])
        if not path.is_file():
            raise CliError(f"--spec: no such file: {path}")
        text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise CliError(f"--spec: invalid JSON ({exc.msg} at {where})") from None
    if not isinstance(data, dict):
        raise CliError("--spec: must be a JSON object")
    return data


def _selector_shape(annotation: Any) -> str | None:
    """'list' (list of event selectors), 'one' (a selector), 'str', or None."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is list and args:
        inner = args[0]
        if (
            isinstance(inner, type)
            and issubclass(inner, BaseModel)
            and "event" in inner.model_fields
        ):
            return "list"
        return None
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for a in args:
            shape = _selector_shape(a)
            if shape:
                return shape
        return None
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel) and "event" in annotation.model_fields:
            return "one"
        if annotation is str:
            return "str"
    return None


EVENT_FIELDS = ("series", "steps", "start_event", "event")


def apply_flags(
    model: type[BaseModel],
    spec: dict[str, Any],
    *,
    events: list[str],
    date_from: date | None,
    date_to: date | None,
    interval: str | None,
) -> dict[str, Any]:
    """Merge the common flags into ``spec`` where the metric has a matching field."""
    fields = model.model_fields
    out = dict(spec)
    kind = fields["kind"].default
    if out.get("kind", kind) != kind:
        raise CliError(f"--spec: kind {out['kind']!r} does not match metric {kind!r}")
    if events:
        for name in EVENT_FIELDS:
            shape = _selector_shape(fields[name].annotation) if name in fields else None
            if shape == "list":
                out[name] = [{"event": e} for e in events]
            elif shape == "one":
                out[name] = {"event": events[0]}
                if len(events) > 1 and name == "start_event" and "return_event" in fields:
                    out["return_event"] = {"event": events[1]}
            elif shape == "str":
                out[name] = events[0]
            if shape:
                break
        else:
            raise CliError(f"--event: does not apply to {kind}; put the events in --spec")
    if date_from or date_to:
        if "date_range" not in fields:
            raise CliError(f"--from/--to: do not apply to {kind}")
        dr = dict(out.get("date_range") or {})
        if date_from:
            dr["date_from"] = date_from.isoformat()
        if date_to:
            dr["date_to"] = date_to.isoformat()
        out["date_range"] = dr
    if interval:
        target = next((f for f in ("interval", "period") if f in fields), None)
        if target is None:
            raise CliError(f"--interval: does not apply to {kind}")
        out[target] = interval
    out["kind"] = kind
    return out


def _metric(kind: str) -> tuple[type[BaseModel], Any]:
    if kind not in metric_kinds():
        raise CliError(f"metric: unknown metric {kind!r}; one of: {', '.join(metric_kinds())}")
    try:
        return load_metric(kind)
    except (ImportError, AttributeError) as exc:
        raise CliError(f"metric: {kind} is not available in this installation ({exc})") from exc


def _date(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(f"{flag}: {value!r} is not a date (YYYY-MM-DD)") from None


@handle_errors
def query_command(
    metric: Annotated[str, typer.Argument(help="Metric: " + ", ".join(metric_kinds()) + ".")],
    project: ProjectOpt = None,
    spec: Annotated[
        str | None, typer.Option("--spec", help="Query as JSON, or @file.json.")
    ] = None,
    event: Annotated[
        list[str] | None, typer.Option("--event", "-e", help="Event(s); repeat for several.")
    ] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD.")] = None,
    interval: Annotated[
        str | None, typer.Option("--interval", help="hour, day, week or month.")
    ] = None,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output: table, json or csv.")
    ] = OutputFormat.table,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Run a metric and print its result."""
    model, run = _metric(metric)
    body = apply_flags(
        model,
        read_spec(spec),
        events=event or [],
        date_from=_date(date_from, "--from"),
        date_to=_date(date_to, "--to"),
        interval=interval,
    )
    query = model.model_validate(body)
    settings = make_settings(data_dir, database_url)
    with db_session(settings) as session:
        ctx = context_for(find_project(session, project))
    with event_store(settings, read_only=True) as store:
        try:
            result = run(store, ctx, query)
        except ValueError as exc:
            raise CliError(f"{metric}: {exc}") from exc
    emit_model(result, fmt, title=metric)

"""Print results as a Rich table, JSON or CSV (``--format``), the same way in every command.

Metric results are pydantic models of different shapes; ``tabulate`` flattens any of them
by a few shape rules (a list of items → one row each; equal-length lists → columns;
``periods`` + ``values`` → one column per period), so a new metric prints without code here.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

import orjson
import typer
from pydantic import BaseModel
from rich.table import Table

from yunying.cli.common import console


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Output: table, json or csv.")
]


def write_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")


def emit_rows(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: OutputFormat,
    *,
    title: str | None = None,
    notes: Sequence[str] = (),
) -> None:
    """Rows as a table (with optional title and notes), JSON objects, or CSV."""
    if fmt == OutputFormat.json:
        write_json([dict(zip(columns, row, strict=True)) for row in rows])
        return
    if fmt == OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_cell(v) for v in row] for row in rows])
        return
    for note in notes:
        console.print(note, highlight=False, markup=False)
    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(str(col), overflow="fold")
    for row in rows:
        table.add_row(*[_cell(v) for v in row])
    console.print(table)


def emit_model(model: BaseModel, fmt: OutputFormat, *, title: str | None = None) -> None:
    if fmt == OutputFormat.json:
        sys.stdout.write(model.model_dump_json(indent=2) + "\n")
        return
    notes, columns, rows = tabulate(model)
    emit_rows(columns, rows, fmt, title=title, notes=notes)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return orjson.dumps(value, default=str).decode()
    return str(value)


# ---- flattening any result model -------------------------------------------------------


def tabulate(model: BaseModel) -> tuple[list[str], list[str], list[list[Any]]]:
    """(notes, columns, rows) for a result model."""
    data = model.model_dump()
    notes = [f"{k}: {_cell(v)}" for k, v in _flat(_scalars(data)).items()]
    item_lists = [k for k, v in data.items() if _is_list_of_dicts(v)]
    if item_lists:
        items = data[item_lists[0]]
        flats = [_flatten_item(it) for it in items]
        columns = list(dict.fromkeys(c for f in flats for c in f))
        return notes, columns, [[f.get(c) for c in columns] for f in flats]
    lists = {k: v for k, v in data.items() if isinstance(v, list)}
    lengths = {len(v) for v in lists.values()}
    if lists and len(lengths) == 1:
        columns = list(lists)
        return notes, columns, [list(r) for r in zip(*lists.values(), strict=True)]
    flat = _flat(data)
    return [], ["field", "value"], [[k, v] for k, v in flat.items()]


def _is_list_of_dicts(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _scalars(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not isinstance(v, list)}


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, f"{key}."))
        else:
            out[key] = v
    return out


def _flatten_item(item: dict[str, Any]) -> dict[str, Any]:
    """One row: scalars as they are, ``periods``+``values`` by period, lists by position."""
    out: dict[str, Any] = {}
    periods = item.get("periods")
    values = item.get("values")
    by_period = (
        isinstance(periods, list) and isinstance(values, list) and len(periods) == len(values)
    )
    pct = item.get("percentages")
    counts = item.get("counts")
    paired = isinstance(pct, list) and isinstance(counts, list) and len(pct) == len(counts)
    for k, v in _flat(item).items():
        if by_period and k in ("periods", "values"):
            continue
        if paired and k in ("percentages", "counts", "complete"):
            continue
        if isinstance(v, list) and all(not isinstance(x, dict | list) for x in v):
            for i, x in enumerate(v):
                out[f"{k}[{i}]"] = x
        else:
            out[k] = v
    if by_period:
        for p, v in zip(periods, values, strict=True):  # type: ignore[arg-type]
            out[_cell(p)] = v
    if paired:
        for i, (c, p) in enumerate(zip(counts, pct, strict=True)):  # type: ignore[arg-type]
            out[str(i)] = f"{c} ({p:.1f}%)" if isinstance(p, int | float) else c
    return out

"""Event properties for a bulk import, a column at a time: stored JSON, promoted columns.

The per-event path parses every row's JSON in Python and serialises it again; at a million
rows that alone is seconds. ``json_text_props`` instead has DuckDB parse each row once
(vectorised, off the GIL) for validity, the keys the store promotes to columns and the
person keys, and keeps the row's text as it came. Python parses only the rows it must:
rows touching persons (``$set``…), rows whose id is derived from their content, rows
where DuckDB's reading could differ from ``orjson``'s (``_SUSPECT``, ``_deep``), and
promoted values that are not plain strings or numbers. Those get exactly the per-event
path's treatment, so the result is that path's, except that a valid JSON text is stored
as written instead of re-serialised by ``orjson``: the same object (whitespace and number
spelling may differ), and of a key written twice DuckDB reads the first where ``orjson``
keeps the last. ``python_props`` is the per-event path itself, for dicts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from yunying.events.identity import PERSON_PROPERTY_KEYS
from yunying.events.import_sources import props_from_value
from yunying.events.model import NUMERIC_PROMOTED, PROMOTED_PROPERTIES

PROMOTED = list(PROMOTED_PROPERTIES.items())  # (property, column)
_KEYS = [prop for prop, _ in PROMOTED] + list(PERSON_PROPERTY_KEYS)
_SPEC = orjson.dumps(dict.fromkeys(_KEYS, "JSON")).decode().replace("'", "''")
# Valid for DuckDB's reader but not for orjson's: NaN/Infinity literals (any case), numbers
# beyond a double (1E400), trailing commas, and nesting past orjson's 1,024 levels
# (``_deep``). Over-matching only sends a row to Python.
_W = r"[ \t\n\r]*"
_SUSPECT = (
    rf"[:\[,]{_W}-?(?:[nN][aA][nN]|[iI][nN][fF]|[0-9]+(?:\.[0-9]+)?[eE]\+?[0-9]{{3}})|,{_W}[}}\]]"
)
_MAX_DEPTH = 1024
_OBJECT = r"^[ \t\n\r]*\{"


@dataclass
class PropsColumns:
    """Properties of a chunk's rows; rows in ``errors`` are not events (reason per row)."""

    text: pa.Array  # the JSON stored
    promoted: dict[str, pa.Array]  # store column → values
    touches: pa.Array  # bool: has $set / $set_once / $unset
    parsed: dict[int, dict[str, Any]] = field(default_factory=dict)  # row → properties
    errors: dict[int, str] = field(default_factory=dict)  # row → reason


def promoted_values(props: dict[str, Any]) -> list[Any]:
    """The promoted columns' values for one row, as ``Event.promoted`` computes them."""
    out: list[Any] = []
    for prop, column in PROMOTED:
        value = props.get(prop)
        if column in NUMERIC_PROMOTED:
            out.append(None if value is None else _as_float(value))
        else:
            out.append(value if value is None or type(value) is str else str(value))
    return out


def _as_float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def dumps(props: dict[str, Any]) -> str:
    """The stored text of a properties dict (as ``events_to_arrow`` writes it)."""
    return orjson.dumps(props, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def touches(props: dict[str, Any]) -> bool:
    return "$set" in props or "$set_once" in props or "$unset" in props


def python_props(props: Sequence[dict[str, Any]], need: Iterable[int] = ()) -> PropsColumns:
    """Columns for rows whose properties are dicts already (the per-event path's rules)."""
    values = [promoted_values(p) for p in props]
    promoted = {
        column: pa.array(
            [v[k] for v in values], pa.float64() if column in NUMERIC_PROMOTED else pa.string()
        )
        for k, (_, column) in enumerate(PROMOTED)
    }
    flags = [touches(p) for p in props]
    parsed = {i: props[i] for i in need}
    parsed.update((i, p) for i, (p, t) in enumerate(zip(props, flags, strict=True)) if t)
    return PropsColumns(
        pa.array([dumps(p) for p in props], pa.string()), promoted, pa.array(flags), parsed
    )


def json_text_props(
    col: pa.Array, con: duckdb.DuckDBPyConnection, need: pa.Array | None = None
) -> PropsColumns:
    """Columns for a JSON text column (see the module docstring).

    ``need``: rows whose properties the caller needs as dicts besides those touching
    persons (merge events, rows without a uuid); they come back in ``parsed``.
    """
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise TypeError(f"properties: text expected, not {col.type}")
    text = pc.fill_null(col.cast(pa.string()), "{}")
    empty = pc.equal(pc.binary_length(text), 0)
    if pc.any(empty).as_py():
        text = pc.if_else(empty, "{}", text)
    got = _query(con, text)
    ok = got.column("ok").combine_chunks()
    fast = pc.and_(
        pc.and_(pc.fill_null(ok, False), pc.match_substring_regex(text, _OBJECT)),
        pc.and_(pc.invert(pc.match_substring_regex(text, _SUSPECT)), pc.invert(_deep(text))),
    )
    touch = pc.and_(fast, pc.fill_null(got.column("touch").combine_chunks(), False))
    out = PropsColumns(text, {}, touch)
    for _, column in PROMOTED:
        out.promoted[column] = _odd_values(got.column(column), got.column(f"odd_{column}"), column)
    slow = pc.invert(fast)
    wanted = touch if need is None else pc.or_(touch, pc.fill_null(need, False))
    _python_rows(text, slow, wanted, out)
    return out


def _deep(text: pa.Array) -> pa.Array:
    """Rows that may nest deeper than orjson reads (more than 1,024 brackets)."""
    long = pc.greater(pc.binary_length(text), 2 * _MAX_DEPTH)
    rows = pc.indices_nonzero(long)
    if len(rows) == 0:
        return long
    sub = text.take(rows)
    brackets = pc.add(pc.count_substring(sub, "{"), pc.count_substring(sub, "["))
    deep = pc.indices_nonzero(pc.greater(brackets, _MAX_DEPTH)).to_pylist()
    return _mask(rows.take(pa.array(deep, pa.int64())).to_pylist(), len(text))


_NUMBERS = "'BIGINT', 'UBIGINT', 'DOUBLE'"


def _sql() -> str:
    """One parse per row: validity, promoted values (strings and numbers), touches.

    A promoted value of another JSON type comes back as its JSON text in ``odd_…``,
    for Python to convert as the per-event path does.
    """
    cols = []
    for prop, column in PROMOTED:
        f = f'x."{prop}"'
        if column in NUMERIC_PROMOTED:
            cols.append(f"CASE WHEN json_type({f}) IN ({_NUMBERS}) THEN {f}::DOUBLE END")
            odd = f"json_type({f}) NOT IN ({_NUMBERS})"
        else:
            cols.append(f"CASE WHEN json_type({f}) = 'VARCHAR' THEN {f} ->> '$' END")
            odd = f"json_type({f}) <> 'VARCHAR'"
        cols[-1] += f' AS "{column}", CASE WHEN {odd} THEN {f} END AS "odd_{column}"'
    touch = " OR ".join(f'x."{k}" IS NOT NULL' for k in PERSON_PROPERTY_KEYS)
    return (
        f"SELECT x IS NOT NULL AS ok, ({touch}) AS touch, {', '.join(cols)} "
        f"FROM (SELECT TRY(json_transform(p, '{_SPEC}')) AS x FROM _yy_props)"
    )


_SQL = _sql()


def _query(con: duckdb.DuckDBPyConnection, text: pa.Array) -> pa.Table:
    _yy_props = pa.table({"p": text})
    con.register("_yy_props", _yy_props)
    try:
        return con.sql(_SQL).to_arrow_table()
    finally:
        con.unregister("_yy_props")


def _odd_values(values: pa.ChunkedArray, odd: pa.ChunkedArray, column: str) -> pa.Array:
    """``values`` with the odd JSON values converted by Python's rules."""
    values = values.combine_chunks()
    rows = pc.indices_nonzero(pc.is_valid(odd)).to_pylist()
    if not rows:
        return values
    frags = odd.take(pa.array(rows, pa.int64())).to_pylist()
    numeric = column in NUMERIC_PROMOTED
    fixed = [_convert(orjson.loads(f), numeric) for f in frags]
    return pc.replace_with_mask(values, _mask(rows, len(values)), pa.array(fixed, values.type))


def _convert(value: Any, numeric: bool) -> Any:
    if numeric:
        return None if value is None else _as_float(value)
    return value if value is None or type(value) is str else str(value)


def _python_rows(text: pa.Array, slow: pa.Array, wanted: pa.Array, out: PropsColumns) -> None:
    """Parse with ``orjson`` the rows DuckDB cannot vouch for, and the wanted ones.

    A slow row gets the per-event path's text, promoted values and touch flag (or its
    error); ``out.parsed`` gets the wanted rows and the slow rows that touch persons.
    """
    rows = pc.indices_nonzero(slow).to_pylist()
    if rows:
        texts: list[str] = []
        promoted: list[list[Any]] = []
        flags: list[bool] = []
        for i in rows:
            props = props_from_value(text[i].as_py())
            if isinstance(props, str):
                out.errors[i] = f"properties: {props}"
                props = {}
            texts.append(dumps(props))
            promoted.append(promoted_values(props))
            flags.append(touches(props))
            if flags[-1]:
                out.parsed[i] = props
        mask = _mask(rows, len(text))
        out.text = pc.replace_with_mask(out.text, mask, pa.array(texts, pa.string()))
        out.touches = pc.replace_with_mask(out.touches, mask, pa.array(flags, pa.bool_()))
        for k, (_, column) in enumerate(PROMOTED):
            values = out.promoted[column]
            fixed = pa.array([v[k] for v in promoted], values.type)
            out.promoted[column] = pc.replace_with_mask(values, mask, fixed)
    slow_rows = set(rows)
    for i in pc.indices_nonzero(wanted).to_pylist():
        if i in out.errors or i in out.parsed:
            continue
        value = text[i].as_py()
        out.parsed[i] = orjson.loads(value) if i not in slow_rows else props_from_value(value)


def _mask(rows: list[int], n: int) -> pa.Array:
    flags = np.zeros(n, dtype=bool)
    flags[rows] = True
    return pa.array(flags)

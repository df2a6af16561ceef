"""Channel costs: import (CSV or JSON rows), list and delete; the CAC/ROI inputs.

A cost row is (local day, channel, cost[, currency]). Importing upserts per project, day
and channel, so re-importing a file is a no-op and a corrected file replaces the old
figures. An import is all or nothing: every bad row is reported with its row number (the
spreadsheet row: the header is row 1) and the field, and nothing is written.

Rows of one file with the same day and channel are added up (an ad platform's export has
a row per campaign). CSV files may be UTF-8 (with or without BOM, as Excel writes it) or
GB18030/GBK (Excel on a Chinese Windows), comma- or tab-separated; headers may be English
or Chinese (日期, 渠道, 费用/成本/花费/消耗, 币种).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from yunying.db.channel_models import ChannelCost

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000
MAX_ERRORS = 50
MAX_COST = 1e12
MAX_CHANNEL = 200
FIELDS = ("date", "channel", "cost", "currency")
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "day", "日期"),
    "channel": ("channel", "渠道", "渠道名称"),
    "cost": ("cost", "spend", "amount", "费用", "成本", "花费", "消耗"),
    "currency": ("currency", "币种", "货币"),
}
_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_CURRENCY = re.compile(r"[A-Za-z]{3}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class CostRow(BaseModel):
    day: date
    channel: str
    cost: float
    currency: str | None = None


class RowError(BaseModel):
    row: int = Field(description="Spreadsheet row (header = 1) or JSON list index + 1.")
    field: str
    message: str


class CostImportError(ValueError):
    """Bad input; ``errors`` names each row and field (at most ``MAX_ERRORS``)."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"row {first.row}, {first.field}: {first.message}{more}")


class ImportResult(BaseModel):
    rows: int = Field(description="Rows read (after adding up same day + channel).")
    inserted: int
    updated: int
    unchanged: int
    merged: int = Field(description="Input rows added to another row of the same day+channel.")
    date_from: date | None
    date_to: date | None
    channels: list[str]


@dataclass
class _Collector:
    errors: list[RowError]
    count: int = 0  # all errors, also those beyond MAX_ERRORS

    def add(self, row: int, field: str, message: str) -> None:
        self.count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(row=row, field=field, message=message))


# ---- parsing and validation ------------------------------------------------------------------


def parse_day(text: str) -> date:
    m = _DATE.fullmatch(text.strip())
    if not m:
        raise ValueError("not a date like 2024-06-30")
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise ValueError("not a real calendar date") from None


def parse_cost(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int | float):
        amount = float(value)
    else:
        text = str(value).strip().replace(",", "").replace("_", "")
        text = text.lstrip("¥￥$")
        try:
            amount = float(text)
        except ValueError:
            raise ValueError("not a number") from None
    if not math.isfinite(amount):
        raise ValueError("not a finite number")
    if amount < 0:
        raise ValueError("must not be negative")
    if amount > MAX_COST:
        raise ValueError("is too large")
    return amount


def parse_channel(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        raise ValueError("is empty")
    if len(text) > MAX_CHANNEL:
        raise ValueError(f"longer than {MAX_CHANNEL} characters")
    if _CONTROL.search(text):
        raise ValueError("contains control characters")
    return text


def parse_currency(value: Any) -> str | None:
    text = str(value or "").strip()
    if not text:
        return None
    if not _CURRENCY.fullmatch(text):
        raise ValueError("not a three-letter currency code like CNY")
    return text.upper()


PARSERS: dict[str, Callable[[Any], Any]] = {
    "date": lambda v: parse_day(str(v)),
    "channel": parse_channel,
    "cost": parse_cost,
    "currency": parse_currency,
}


def validate_rows(items: Iterable[tuple[int, Mapping[str, Any]]]) -> list[CostRow]:
    """Rows (row number, {date, channel, cost, currency?}) → CostRows, or every error."""
    out: list[CostRow] = []
    errors = _Collector([])
    currencies: dict[str, int] = {}
    for number, item in items:
        parsed: dict[str, Any] = {}
        before = errors.count
        for name, parse in PARSERS.items():
            raw = item.get(name)
            if raw is None and name != "currency":
                errors.add(number, name, "is missing")
                continue
            try:
                parsed[name] = parse(raw)
            except ValueError as exc:
                errors.add(number, name, str(exc))
        currency = parsed.get("currency")
        if currency:
            currencies.setdefault(currency, number)
            if len(currencies) > 1 and currencies[currency] == number:
                other = next(c for c in currencies if c != currency)
                errors.add(number, "currency", f"{currency} differs from {other} on other rows")
        if errors.count == before and len(parsed) == len(PARSERS):
            out.append(
                CostRow(
                    day=parsed["date"],
                    channel=parsed["channel"],
                    cost=parsed["cost"],
                    currency=parsed["currency"],
                )
            )
    if errors.errors:
        raise CostImportError(errors.errors)
    return out


def decode(data: bytes) -> str:
    """UTF-8 (BOM or not), else GB18030 (Excel on a Chinese Windows writes GBK)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise CostImportError(
            [RowError(row=1, field="file", message="not UTF-8 or GBK text")]
        ) from None


def _header_map(header: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    errors = _Collector([])
    for i, raw in enumerate(header):
        name = raw.strip().lower()
        for field, aliases in HEADER_ALIASES.items():
            if name in aliases:
                if field in found:
                    errors.add(1, field, "column appears twice")
                found[field] = i
    for field in ("date", "channel", "cost"):
        if field not in found:
            errors.add(1, field, "column is missing (header needs date, channel, cost)")
    if errors.errors:
        raise CostImportError(errors.errors)
    return found


def parse_csv(data: bytes | str) -> list[CostRow]:
    """A cost CSV → rows (same day + channel not yet added up)."""
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise CostImportError([RowError(row=1, field="file", message="larger than 10 MB")])
        text = decode(data)
    else:
        text = data
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise CostImportError([RowError(row=1, field="file", message="is empty")]) from None
    except csv.Error as exc:
        raise CostImportError([RowError(row=1, field="file", message=str(exc))]) from None
    columns = _header_map(header)
    items: list[tuple[int, dict[str, Any]]] = []
    try:
        for number, record in enumerate(reader, start=2):
            if not any(cell.strip() for cell in record):
                continue  # blank lines, trailing ",,," rows
            if len(items) >= MAX_ROWS:
                raise CostImportError(
                    [RowError(row=number, field="file", message=f"more than {MAX_ROWS} rows")]
                )
            items.append(
                (
                    number,
                    {f: (record[i] if i < len(record) else None) for f, i in columns.items()},
                )
            )
    except csv.Error as exc:
        raise CostImportError(
            [RowError(row=reader.line_num, field="file", message=str(exc))]
        ) from None
    return validate_rows(items)


def parse_json_rows(items: Sequence[Any]) -> list[CostRow]:
    """JSON rows (objects with date, channel, cost, currency?); row = index + 1."""
    if len(items) > MAX_ROWS:
        raise CostImportError(
            [RowError(row=MAX_ROWS + 1, field="rows", message=f"more than {MAX_ROWS} rows")]
        )
    prepared: list[tuple[int, Mapping[str, Any]]] = []
    errors = _Collector([])
    for i, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            errors.add(i, "row", "must be an object with date, channel and cost")
            continue
        prepared.append((i, item))
    if errors.errors:
        raise CostImportError(errors.errors)
    return validate_rows(prepared)


def combine(rows: Sequence[CostRow]) -> tuple[list[CostRow], int]:
    """Add up rows of the same day and channel; (rows, how many were merged)."""
    merged: dict[tuple[date, str], CostRow] = {}
    for r in rows:
        key = (r.day, r.channel)
        if key in merged:
            merged[key].cost += r.cost
        else:
            merged[key] = r.model_copy()
    return list(merged.values()), len(rows) - len(merged)


# ---- the store -----------------------------------------------------------------------------


def stored_currency(session: Session, project_id: int) -> str | None:
    found = session.scalars(
        select(ChannelCost.currency)
        .where(ChannelCost.project_id == project_id, ChannelCost.currency.is_not(None))
        .limit(1)
    ).first()
    return found


def save_costs(session: Session, project_id: int, rows: Sequence[CostRow]) -> ImportResult:
    """Upsert rows (validated) for the project: one row per day and channel."""
    combined, merged = combine(rows)
    currency = next((r.currency for r in combined if r.currency), None)
    existing_currency = stored_currency(session, project_id)
    if currency and existing_currency and currency != existing_currency:
        raise CostImportError(
            [
                RowError(
                    row=1,
                    field="currency",
                    message=f"{currency} differs from the stored costs ({existing_currency})",
                )
            ]
        )
    inserted = updated = unchanged = 0
    if combined:
        days = [r.day for r in combined]
        current = {
            (c.day, c.channel): c
            for c in session.scalars(
                select(ChannelCost).where(
                    ChannelCost.project_id == project_id,
                    ChannelCost.day >= min(days),
                    ChannelCost.day <= max(days),
                )
            )
        }
        now = datetime.now(UTC)
        for r in combined:
            row = current.get((r.day, r.channel))
            if row is None:
                session.add(
                    ChannelCost(
                        project_id=project_id,
                        day=r.day,
                        channel=r.channel,
                        cost=r.cost,
                        currency=r.currency or currency or existing_currency,
                        updated_at=now,
                    )
                )
                inserted += 1
            elif math.isclose(row.cost, r.cost, rel_tol=0, abs_tol=1e-9) and (
                r.currency is None or r.currency == row.currency
            ):
                unchanged += 1
            else:
                row.cost = r.cost
                row.currency = r.currency or currency or row.currency
                row.updated_at = now
                updated += 1
        session.flush()
    days_sorted = sorted(r.day for r in combined)
    return ImportResult(
        rows=len(combined),
        inserted=inserted,
        updated=updated,
        unchanged=unchanged,
        merged=merged,
        date_from=days_sorted[0] if days_sorted else None,
        date_to=days_sorted[-1] if days_sorted else None,
        channels=sorted({r.channel for r in combined}),
    )


def import_csv(session: Session, project_id: int, data: bytes | str) -> ImportResult:
    """Parse, validate and upsert a cost CSV (nothing is written when a row is bad)."""
    return save_costs(session, project_id, parse_csv(data))


def import_rows(session: Session, project_id: int, items: Sequence[Any]) -> ImportResult:
    return save_costs(session, project_id, parse_json_rows(items))


def list_costs(
    session: Session,
    project_id: int,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    channel: str | None = None,
) -> list[CostRow]:
    """Stored costs, by day then channel."""
    q = select(ChannelCost).where(ChannelCost.project_id == project_id)
    if date_from is not None:
        q = q.where(ChannelCost.day >= date_from)
    if date_to is not None:
        q = q.where(ChannelCost.day <= date_to)
    if channel is not None:
        q = q.where(ChannelCost.channel == channel)
    q = q.order_by(ChannelCost.day, ChannelCost.channel)
    return [
        CostRow(day=c.day, channel=c.channel, cost=c.cost, currency=c.currency)
        for c in session.scalars(q)
    ]


def cost_map(
    session: Session, project_id: int, date_from: date, date_to: date
) -> dict[tuple[date, str], float]:
    """(day, channel) → cost over the range: what the channel report needs."""
    return {
        (r.day, r.channel): r.cost
        for r in list_costs(session, project_id, date_from=date_from, date_to=date_to)
    }


def delete_costs(
    session: Session,
    project_id: int,
    *,
    date_from: date,
    date_to: date,
    channel: str | None = None,
) -> int:
    """Remove stored costs of a range (and channel); returns how many rows went."""
    stmt = delete(ChannelCost).where(
        ChannelCost.project_id == project_id,
        ChannelCost.day >= date_from,
        ChannelCost.day <= date_to,
    )
    if channel is not None:
        stmt = stmt.where(ChannelCost.channel == channel)
    result = session.execute(stmt)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def costs_csv(rows: Sequence[CostRow]) -> str:
    """Stored costs as a CSV in the import format (so an export re-imports unchanged)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for r in rows:
        writer.writerow([r.day.isoformat(), r.channel, repr(r.cost), r.currency or ""])
    return out.getvalue()

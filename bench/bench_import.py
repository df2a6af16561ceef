"""Parquet import speed: ``yunying.events.importer.import_file`` vs a raw DuckDB insert.

Yunying's import applies the write path's rules (identity, persons, dedupe, promoted
columns, one transaction per batch) to whole columns. The baseline is the least DuckDB can
do with the same file: ``INSERT INTO events SELECT … FROM read_parquet(…)`` into an empty
store of the same schema (primary key included), without identities or promoted columns.
All write to a DuckDB file on disk. For scale, the floor (a keyless copy of the file) is
shown too, and the same raw insert into the schema before ``events.uuid`` became a UUID
(a text primary key). A second Yunying run re-imports the same file (every row a
duplicate). CPU seconds (this process, all threads) are shown beside the wall clock: on a
busy machine they say more than the wall clock does.

    python bench/bench_import.py                     # 1M events
    python bench/bench_import.py --events 10000000
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from common import demo_parquet, ratio, table, update_report

from yunying.store.duckdb import _DDL, DuckDBStore

# The store's schema before ``events.uuid`` became a UUID: the same key, as text.
TEXT_KEY_DDL = _DDL.replace("uuid UUID NOT NULL", "uuid VARCHAR NOT NULL")


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def yunying_import(parquet: Path, db: Path, *, again: bool = False) -> tuple[float, float, int]:
    """Seconds, CPU seconds and rows for ``import_file``; with ``again``, its second run."""
    from yunying.events.importer import import_file

    store = DuckDBStore(db)
    store.ensure_schema()
    try:
        if again:
            import_file(store, project_id=1, path=parquet, fmt="parquet")
        t0, c0 = time.perf_counter(), cpu_seconds()
        summary = import_file(store, project_id=1, path=parquet, fmt="parquet")
        seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    finally:
        store.close()
    return seconds, cpu, summary.rows_read


def raw_insert(parquet: Path, db: Path, ddl: str = _DDL) -> tuple[float, float, int]:
    con = duckdb.connect(str(db))
    con.execute(ddl)
    con.execute("SET TimeZone = 'UTC'")
    src = str(parquet).replace("'", "''")
    t0, c0 = time.perf_counter(), cpu_seconds()
    n = con.execute(
        f"INSERT INTO events (uuid, project_id, event, distinct_id, person_id, timestamp, "
        f"received_at, properties) SELECT uuid, 1, event, distinct_id, distinct_id, "
        f"timestamp::TIMESTAMP, now()::TIMESTAMP, properties FROM read_parquet('{src}')"
    ).fetchone()[0]  # type: ignore[index]
    con.execute("CHECKPOINT")
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    con.close()
    return seconds, cpu, int(n)


def plain_copy(parquet: Path, db: Path) -> tuple[float, float, int]:
    """The floor: the file copied into a table with no key or index at all."""
    con = duckdb.connect(str(db))
    src = str(parquet).replace("'", "''")
    t0, c0 = time.perf_counter(), cpu_seconds()
    con.execute(f"CREATE TABLE raw AS SELECT * FROM read_parquet('{src}')")
    n = con.execute("SELECT count(*) FROM raw").fetchone()[0]  # type: ignore[index]
    con.execute("CHECKPOINT")
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    con.close()
    return seconds, cpu, int(n)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000, help="file size (events)")
    ap.add_argument("--no-reimport", action="store_true", help="skip the all-duplicates run")
    ap.add_argument("--no-report", action="store_true", help="do not update docs/benchmarks.md")
    args = ap.parse_args(argv)

    parquet = demo_parquet(args.events)
    size_mb = parquet.stat().st_size / 1e6
    work = Path(tempfile.mkdtemp(prefix="yy-bench-import-"))
    try:
        ps, pc, pn = plain_copy(parquet, work / "plain.duckdb")
        print(f"plain copy (no key): {pn:,} rows in {ps:.2f} s = {pn / ps:,.0f} events/s")
        rs, rc, rn = raw_insert(parquet, work / "raw.duckdb")
        print(f"raw DuckDB insert: {rn:,} rows in {rs:.2f} s = {rn / rs:,.0f} events/s")
        ts, tc, tn = raw_insert(parquet, work / "text.duckdb", TEXT_KEY_DDL)
        print(f"raw insert, text key: {tn:,} rows in {ts:.2f} s = {tn / ts:,.0f} events/s")
        ys, yc, yn = yunying_import(parquet, work / "yy.duckdb")
        print(f"yunying import:    {yn:,} rows in {ys:.2f} s = {yn / ys:,.0f} events/s")
        rows = [
            ["keyless copy CREATE TABLE AS (floor)", f"{ps:.2f}", f"{pc:.2f}", f"{pn / ps:,.0f}",
             ratio(rs, ps)],
            ["raw DuckDB INSERT … read_parquet (baseline)", f"{rs:.2f}", f"{rc:.2f}",
             f"{rn / rs:,.0f}", "1.00×"],
            ["raw INSERT, text uuid key (the schema before)", f"{ts:.2f}", f"{tc:.2f}",
             f"{tn / ts:,.0f}", ratio(rs, ts)],
            ["Yunying `import_file`", f"{ys:.2f}", f"{yc:.2f}", f"{yn / ys:,.0f}", ratio(rs, ys)],
        ]  # fmt: skip
        if not args.no_reimport:
            ds, dc, dn = yunying_import(parquet, work / "yy2.duckdb", again=True)
            print(f"yunying re-import (all duplicates): {dn / ds:,.0f} events/s")
            rows.append(["Yunying re-import (all duplicates)", f"{ds:.2f}", f"{dc:.2f}",
                         f"{dn / ds:,.0f}", ratio(rs, ds)])  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = table(rows, ["path", "seconds", "CPU s", "events/s", "speed vs baseline"])
    print("\n" + result)
    if not args.no_report:
        body = (
            f"File: the demo product as Parquet (zstd), {yn:,} events, {size_mb:.0f} MB. "
            f"Each run imports into an empty DuckDB store file. Target: ≥ 200,000 events/s.\n\n"
            f"{result}\n\nCommand: `python bench/bench_import.py --events {args.events}`"
        )
        update_report("import", "Parquet import", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())

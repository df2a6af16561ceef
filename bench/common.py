"""What every benchmark shares: the cached dataset, timing, machine facts, the report file.

The query dataset is the demo product (``yunying.demo``) scaled to ~10M events, so the
benchmarks run on data with a real shape (skewed activity, identity merges, share
chains). For speed it is bulk-loaded straight into the event-store tables with DuckDB SQL
instead of through ``write_events``: the rows are the same the pipeline would write
(person ids ``person_uuid(project, first distinct id)``, anonymous ids merged into the
person on ``$identify``, promoted columns filled), only the per-event Python is skipped.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data"
REPORT = ROOT / "docs" / "benchmarks.md"
PROJECT_ID = 1
TIMEZONE = "Asia/Shanghai"
END = date(2024, 6, 30)  # fixed, so the cached dataset and the query ranges never drift
DAYS = 90
SEED = 20240630
EVENTS_PER_PERSON = 74.0  # the demo's average over 90 days (measured), to size by events
DATASET_VERSION = 1  # bump when the generator or the bulk load changes

T = TypeVar("T")


# ---- timing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    runs: list[float]

    @property
    def best(self) -> float:
        return min(self.runs)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def timed(fn: Callable[[], T], *, warmup: int = 1, repeat: int = 5) -> tuple[Timing, T]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeat`` times; the last result too."""
    result: Any = None
    for _ in range(warmup):
        result = fn()
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - t0)
    return Timing(runs), result


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b > 0 else "n/a"


# ---- machine and report ---------------------------------------------------------------------


def machine() -> str:
    """One line: cores, memory, CPU model, OS, Python and DuckDB versions."""
    cpu = platform.processor() or platform.machine()
    mem_gb = None
    try:
        info = Path("/proc/cpuinfo").read_text()
        m = re.search(r"model name\s*:\s*(.+)", info)
        cpu = m.group(1).strip() if m else cpu
        meminfo = Path("/proc/meminfo").read_text()
        kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]
        mem_gb = round(kb / 1024 / 1024)
    except (OSError, AttributeError):
        pass
    mem = f", {mem_gb} GB RAM" if mem_gb else ""
    return (
        f"{os.cpu_count()} cores{mem}, {cpu}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, DuckDB {duckdb.__version__}"
    )


def update_report(name: str, title: str, body: str) -> None:
    """Replace (or append) this benchmark's section of docs/benchmarks.md."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    section = (
        f"{start}\n## {title}\n\n_Last run: {stamp}. Machine: {machine()}. "
        f"Load average at the end (1/5/15 min): {load} — above 2 means other work shared "
        f"the cores._\n\n"
        f"{body.strip()}\n{end}"
    )
    text = REPORT.read_text() if REPORT.exists() else _REPORT_HEAD
    if start in text and end in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text)
    print(f"\nresults written to {REPORT.relative_to(ROOT)} (section '{name}')")


_REPORT_HEAD = """# Benchmarks

Scripts under `bench/` (not tests). Each prints absolute figures and ratios against a
baseline measured in the same run, and rewrites its own section below. Run them on an
otherwise idle machine; the figures here come from the machine named in each section.
"""


def table(rows: list[list[str]], header: list[str]) -> str:
    """A Markdown table (also readable when printed)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


# ---- datasets -------------------------------------------------------------------------------


def persons_for(events: int) -> int:
    return max(100, round(events / EVENTS_PER_PERSON))


def demo_parquet(events: int) -> Path:
    """The demo product sized to about ``events`` events, as a Parquet file (cached)."""
    from yunying.demo import generate_demo

    persons = persons_for(events)
    path = DATA / f"demo-v{DATASET_VERSION}-{persons}p-{DAYS}d-{SEED}.parquet"
    if not path.exists():
        print(f"generating the demo product: {persons:,} persons, {DAYS} days …", flush=True)
        tmp = path.with_suffix(".tmp.parquet")
        summary = generate_demo(
            tmp, persons=persons, days=DAYS, seed=SEED, end=END, project_timezone=TIMEZONE
        )
        tmp.rename(path)
        print(f"  {summary.events:,} events in {summary.generate_seconds:.1f} s", flush=True)
    return path


def query_store(events: int) -> Path:
    """A DuckDB event-store file holding the demo product (~``events`` events), cached."""
    parquet = demo_parquet(events)
    db = parquet.with_suffix(".duckdb")
    if db.exists():
        return upgraded(db)
    from yunying.store.duckdb import DuckDBStore

    tmp = db.with_suffix(".tmp.duckdb")
    tmp.unlink(missing_ok=True)
    store = DuckDBStore(tmp)
    store.ensure_schema()
    store.close()
    t0 = time.perf_counter()
    bulk_load(parquet, tmp, PROJECT_ID)
    tmp.rename(db)
    print(f"  bulk-loaded into {db.name} in {time.perf_counter() - t0:.1f} s", flush=True)
    return upgraded(db)


def upgraded(db: Path) -> Path:
    """A cached store file brought to the current schema (tables added since it was built
    are created, e.g. ``person_overrides``) and its ``person_days`` and
    ``event_timelines`` refreshed, as the import and the server's jobs keep them, so
    benchmarks may then open it read-only."""
    from yunying.store.duckdb import DuckDBStore
    from yunying.store.person_days import refresh_person_days

    store = DuckDBStore(db)
    store.ensure_schema()
    t0 = time.perf_counter()
    done = refresh_person_days(store, PROJECT_ID, TIMEZONE)
    if done.days or done.timelines_full:
        what = "built" if done.full else "refreshed"
        timelines = ", event_timelines built" if done.timelines_full else ""
        print(
            f"  person_days {what} ({done.days} days){timelines} in "
            f"{time.perf_counter() - t0:.1f} s"
        )
    store.close()
    return db


def bulk_load(parquet: Path, db: Path, project_id: int) -> int:
    """Load a canonical Parquet file into the store tables with set-based SQL.

    Identity: a ``$identify`` maps its user id onto the person of its ``$anon_distinct_id``
    (which the pipeline creates first, at the anonymous page view); every other id is its
    own person. Person properties are the ``$set`` of the identify event.
    """
    from yunying.events.model import YUNYING_NS

    con = duckdb.connect(str(db))
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")  # TIMESTAMPTZ → naive UTC, as the store keeps it
    src = str(parquet).replace("'", "''")
    con.execute(f"CREATE TEMP VIEW raw AS SELECT * FROM read_parquet('{src}')")
    con.execute(
        """
        CREATE TEMP TABLE ident AS
        SELECT distinct_id AS user_id,
               json_extract_string(properties, '$."$anon_distinct_id"') AS anon_id,
               json_extract(properties, '$."$set"')::VARCHAR AS props,
               timestamp
        FROM raw WHERE event = '$identify'
        """
    )
    con.execute(
        """
        CREATE TEMP TABLE ids AS
        SELECT r.distinct_id, coalesce(a.anon_id, r.distinct_id) AS root,
               min(r.timestamp) AS first_seen
        FROM raw r LEFT JOIN ident a ON a.user_id = r.distinct_id
        GROUP BY ALL
        """
    )
    roots = [r for (r,) in con.execute("SELECT DISTINCT root FROM ids").fetchall()]
    pids = [str(uuid.uuid5(YUNYING_NS, f"{project_id}\x1f{r}")) for r in roots]
    con.register("root_pid", pa.table({"root": roots, "pid": pids}))
    con.execute(
        "CREATE TEMP TABLE pdi AS SELECT i.distinct_id, p.pid, i.first_seen "
        "FROM ids i JOIN root_pid p USING (root)"
    )
    con.execute("BEGIN")
    con.execute(
        f"INSERT INTO person_distinct_ids SELECT {project_id}, distinct_id, pid, 1 FROM pdi"
    )
    con.execute(
        f"""
        INSERT INTO persons
        SELECT {project_id}, p.pid, coalesce(any_value(a.props), '{{}}'),
               min(p.first_seen)::TIMESTAMP, 1
        FROM pdi p LEFT JOIN ident a ON a.user_id = p.distinct_id
        GROUP BY p.pid
        """
    )
    n = con.execute(
        f"""
        INSERT INTO events
        SELECT r.uuid, {project_id}, r.event, r.distinct_id, p.pid,
               r.timestamp::TIMESTAMP, r.timestamp::TIMESTAMP, r.properties,
               json_extract_string(r.properties, '$."$current_url"'),
               json_extract_string(r.properties, '$."$referrer"'),
               json_extract_string(r.properties, '$.utm_source'),
               json_extract_string(r.properties, '$.channel'),
               TRY_CAST(json_extract(r.properties, '$."$revenue"') AS DOUBLE),
               json_extract_string(r.properties, '$."$content_id"')
        FROM raw r JOIN pdi p USING (distinct_id)
        ORDER BY r.timestamp
        """
    ).fetchone()[0]  # type: ignore[index]
    con.execute("COMMIT")
    con.execute("CHECKPOINT")
    con.close()
    return int(n)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)

"""HTTP ingest speed through PostHog's ``/batch/`` endpoint, durable on acknowledgement.

A real server (``uvicorn --factory yunying.api.app:create_app``) runs in a subprocess on
a free port with its own data folder. Concurrent asyncio clients post pre-encoded
batches (demo-product events, each with its own uuid) for a fixed time; only events
whose request answered 200 count. Afterwards the server is stopped and the store is
checked to hold every acknowledged event. Baseline: the same events written in-process
with ``write_events`` in the server's group-commit size (no HTTP, no parsing).

    python bench/bench_ingest.py                          # 10 s per batch size
    python bench/bench_ingest.py --seconds 30 --clients 16 --batch-sizes 100,1000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pyarrow.parquet as pq
from common import demo_parquet, ratio, table, update_report

from yunying.config import get_settings
from yunying.db.migrate import upgrade
from yunying.db.projects import create_project
from yunying.db.session import make_engine, make_sessionmaker, session_scope
from yunying.events.model import Event
from yunying.events.pipeline import write_events
from yunying.store.duckdb import DuckDBStore

SOURCE_EVENTS = 1_000_000  # the demo file the events are taken from


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_project(data_dir: Path) -> str:
    """Initialise the operational store there; the project's public (ingest) key."""
    settings = get_settings(data_dir=data_dir)
    upgrade(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    with session_scope(make_sessionmaker(engine)) as session:
        _, public, _ = create_project(session, name="bench")
    engine.dispose()
    return public.token


def load_items(n: int) -> list[dict]:
    """``n`` demo events as PostHog batch items (timestamps ISO 8601, uuids kept)."""
    table_ = pq.read_table(demo_parquet(SOURCE_EVENTS)).slice(0, n)
    items = []
    for r in table_.to_pylist():
        items.append(
            {
                "event": r["event"],
                "distinct_id": r["distinct_id"],
                "timestamp": r["timestamp"].astimezone(UTC).isoformat(),
                "properties": orjson.loads(r["properties"]),
                "uuid": r["uuid"],
            }
        )
    return items


def bodies(items: list[dict], key: str, batch: int) -> list[bytes]:
    return [
        orjson.dumps({"api_key": key, "batch": items[i : i + batch]})
        for i in range(0, len(items), batch)
    ]


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "YUNYING_DATA_DIR": str(data_dir)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "yunying.api.app:create_app",
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
             "--no-access-log"],
            env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the server did not start")

    def cpu_seconds(self) -> float:
        """User + system CPU the server process (all its threads) has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def blast(url: str, payloads: list[bytes], per: int, clients: int, seconds: float) -> dict:
    """Post ``payloads`` with ``clients`` workers until they run out or time is up."""
    queue = list(reversed(payloads))
    acked = failed = requests = 0
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal acked, failed, requests
        while queue and time.perf_counter() < stop_at:
            body = queue.pop()
            t0 = time.perf_counter()
            r = await client.post(
                url + "/batch/", content=body, headers={"Content-Type": "application/json"}
            )
            latencies.append(time.perf_counter() - t0)
            requests += 1
            if r.status_code == 200:
                acked += per
            else:
                failed += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        elapsed = time.perf_counter() - t0
    latencies.sort()
    p = lambda q: latencies[min(int(q * len(latencies)), len(latencies) - 1)] if latencies else 0  # noqa: E731
    return {
        "acked": acked,
        "failed": failed,
        "requests": requests,
        "seconds": elapsed,
        "p50": p(0.5),
        "p99": p(0.99),
        "ran_out": not queue,
    }


def baseline(items: list[dict], batch: int) -> tuple[float, int]:
    """``write_events`` in-process into a fresh DuckDB file, ``batch`` events a call."""
    work = Path(tempfile.mkdtemp(prefix="yy-bench-base-"))
    now = datetime.now(UTC)
    events = [
        Event(
            uuid=i["uuid"],
            project_id=1,
            event=i["event"],
            distinct_id=i["distinct_id"],
            timestamp=datetime.fromisoformat(i["timestamp"]),
            received_at=now,
            properties=i["properties"],
        )
        for i in items
    ]
    store = DuckDBStore(work / "events.duckdb")
    store.ensure_schema()
    try:
        t0 = time.perf_counter()
        for lo in range(0, len(events), batch):
            write_events(store, events[lo : lo + batch])
        seconds = time.perf_counter() - t0
    finally:
        store.close()
        shutil.rmtree(work, ignore_errors=True)
    return seconds, len(events)


def stored(data_dir: Path) -> int:
    store = DuckDBStore(get_settings(data_dir=data_dir).duckdb_path, read_only=True)
    try:
        return int(store.query("SELECT count(*) AS n FROM events").column("n")[0].as_py())
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0, help="sustained run per batch size")
    ap.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    ap.add_argument("--batch-sizes", default="100,1000", help="events per request, comma list")
    ap.add_argument(
        "--max-events", type=int, default=1_000_000, help="events prepared (a run stops at the end)"
    )
    ap.add_argument("--no-report", action="store_true", help="do not update docs/benchmarks.md")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.batch_sizes.split(",")]

    items = load_items(args.max_events)
    print(f"prepared {len(items):,} demo events as PostHog batch items")
    group = get_settings().ingest_max_batch
    bs, bn = baseline(items[:200_000], group)
    base_rate = bn / bs
    print(f"baseline write_events in-process ({group:,}/call): {base_rate:,.0f} events/s")
    rows = [[f"`write_events` in-process, {group:,} per call (baseline)", "—", "—",
             f"{base_rate:,.0f}", "1.00×", "—", "—", "—"]]  # fmt: skip
    for size in sizes:
        work = Path(tempfile.mkdtemp(prefix="yy-bench-ingest-"))
        try:
            key = make_project(work)
            payloads = bodies(items[: len(items) - len(items) % size], key, size)
            server = Server(work)
            try:
                warm = asyncio.run(blast(server.url, payloads[:20], size, args.clients, 5))
                cpu0 = server.cpu_seconds()
                res = asyncio.run(
                    blast(server.url, payloads[20:], size, args.clients, args.seconds)
                )
                cpu = server.cpu_seconds() - cpu0
            finally:
                server.stop()
            in_store = stored(work)
            acked = warm["acked"] + res["acked"]
            rate = res["acked"] / res["seconds"]
            durable = "yes" if in_store >= acked else f"NO ({in_store:,} of {acked:,})"
            note = " (ran out of prepared events)" if res["ran_out"] else ""
            # Server CPU per million acknowledged events: unlike events/s, hardly moved by
            # other work sharing the cores.
            cpu_per_m = cpu / res["acked"] * 1e6 if res["acked"] else float("nan")
            print(
                f"batch {size}: {res['acked']:,} events acked in {res['seconds']:.1f} s = "
                f"{rate:,.0f} events/s{note}; p50 {res['p50'] * 1000:.0f} ms, "
                f"p99 {res['p99'] * 1000:.0f} ms; failed requests {res['failed']}; "
                f"durable: {durable}; vs baseline {ratio(rate, base_rate)}; "
                f"server CPU {cpu:.1f} s = {cpu_per_m:.1f} CPU-s per 1M events; "
                f"load {' / '.join(f'{x:.1f}' for x in os.getloadavg())}"
            )
            rows.append(
                [
                    f"HTTP `/batch/`, {size} events/request, {args.clients} clients",
                    f"{res['seconds']:.1f}",
                    f"{res['acked']:,}",
                    f"{rate:,.0f}",
                    ratio(rate, base_rate),
                    f"{res['p50'] * 1000:.0f} / {res['p99'] * 1000:.0f}",
                    f"{cpu_per_m:.1f}",
                    durable,
                ]
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
    header = ["path", "seconds", "events acked", "events/s", "vs baseline", "p50/p99 ms",
              "server CPU s / 1M events", "all acked stored"]  # fmt: skip
    result = table(rows, header)
    print("\n" + result)
    if not args.no_report:
        body = (
            "Server: one uvicorn process (`--factory yunying.api.app:create_app`), DuckDB "
            "event store, group commit (`ingest_flush_ms`, `ingest_max_batch` defaults). "
            "Clients: asyncio + httpx in one process on the same machine (they share the "
            "2 cores with the server), bodies pre-encoded; demo-product events, unique uuids. "
            "A 200 means committed; after each run the store is checked to hold every "
            "acknowledged event. Target: ≥ 50,000 events/s.\n\n"
            f"{result}\n\nCommand: `python bench/bench_ingest.py --seconds {args.seconds:g} "
            f"--clients {args.clients} --batch-sizes {args.batch_sizes}`"
        )
        update_report("ingest", "HTTP ingest (PostHog /batch/)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A 2xx means durable: SIGKILL the server mid-load and every acknowledged event is there.

Concurrent clients send batches to a real server (PostHog and Segment endpoints); the
moment enough acknowledgements have arrived the server is SIGKILLed while other requests
are still in flight. The DuckDB file is then read directly (its WAL is replayed on open),
and the server is restarted on the same data directory to show it recovers and ingests.
"""

from __future__ import annotations

import asyncio
import uuid

import duckdb
import httpx
import orjson
import pyarrow as pa
import pytest

from tests.live_server import live_server
from yunying.events.model import Event, utcnow
from yunying.events.writer import IngestWriter, WriterClosed
from yunying.store.duckdb import DuckDBStore

CLIENTS = 6
BATCH = 250
KILL_AFTER_ACKED = 24 * BATCH
MAX_SECONDS = 30


def _posthog_body(key: str, ids: list[str], n: int) -> bytes:
    batch = [
        {"event": "load", "distinct_id": f"u{n % 97}", "uuid": i, "properties": {"n": n}}
        for i in ids
    ]
    return orjson.dumps({"api_key": key, "batch": batch})


def _segment_body(key: str, ids: list[str], n: int) -> bytes:
    batch = [
        {"type": "track", "event": "load", "userId": f"s{n % 89}", "messageId": i} for i in ids
    ]
    return orjson.dumps({"writeKey": key, "batch": batch})


async def _load(url: str, key: str, on_ack) -> None:  # type: ignore[no-untyped-def]
    stop = asyncio.Event()
    deadline = asyncio.get_running_loop().time() + MAX_SECONDS

    async def client(c: int) -> None:
        path, body_of = ("/batch/", _posthog_body) if c % 2 else ("/v1/batch", _segment_body)
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            n = 0
            while not stop.is_set() and asyncio.get_running_loop().time() < deadline:
                ids = [str(uuid.uuid4()) for _ in range(BATCH)]
                n += 1
                try:
                    r = await http.post(path, content=body_of(key, ids, n))
                except httpx.TransportError:
                    return  # the server is gone: this batch was never acknowledged
                assert r.status_code == 200, r.text
                if on_ack(ids):
                    stop.set()

    await asyncio.gather(*(client(c) for c in range(CLIENTS)))


def test_acknowledged_events_survive_sigkill(tmp_path):
    acked: list[str] = []
    with live_server(tmp_path) as server:

        def on_ack(ids: list[str]) -> bool:
            acked.extend(ids)
            if len(acked) >= KILL_AFTER_ACKED and server.running:
                server.proc.kill()  # SIGKILL, with other requests still in flight
                return True
            return False

        asyncio.run(_load(server.url, server.public_key, on_ack))
        server.kill()  # reap it
        assert len(acked) >= KILL_AFTER_ACKED, server.log()

        con = duckdb.connect(str(server.settings.duckdb_path), read_only=True)
        try:
            con.register("acked", pa.table({"uuid": acked}))
            (found,) = con.execute("SELECT count(*) FROM acked JOIN events USING (uuid)").fetchone()
            (total,) = con.execute("SELECT count(*) FROM events").fetchone()
        finally:
            con.close()
        assert found == len(acked)
        assert total >= len(acked)  # plus any committed whose answer never left

        server.start()  # same data dir, recovers from the WAL
        extra = [str(uuid.uuid4()) for _ in range(10)]
        r = httpx.post(f"{server.url}/batch/", content=_posthog_body(server.public_key, extra, 1))
        assert r.status_code == 200
        server.stop()
        rows = server.events_rows("SELECT count(*) AS n FROM events")
        assert rows[0]["n"] == total + len(extra)


# ---- the group-commit writer's promises, without a server ----------------------------------


class _FlakyStore(DuckDBStore):
    """Fails any commit that contains an event named ``poison``."""

    def write(self, batch):  # type: ignore[no-untyped-def]
        if any(e.event == "poison" for e in batch.events):
            raise OSError("simulated write failure")
        return super().write(batch)


def _events(name: str, n: int) -> list[Event]:
    now = utcnow()
    return [Event(str(uuid.uuid4()), 1, name, "u", now, now, {}) for _ in range(n)]


def test_writer_acks_after_commit_and_isolates_a_failing_request():
    store = _FlakyStore()
    store.ensure_schema()
    writer = IngestWriter(store, flush_ms=50, max_batch=10_000)
    writer.start()

    async def main() -> list[object]:
        return await asyncio.gather(
            writer.submit(_events("a", 3)),
            writer.submit(_events("poison", 1)),
            writer.submit(_events("b", 2)),
            return_exceptions=True,
        )

    try:
        ok_a, bad, ok_b = asyncio.run(main())
        assert (ok_a, ok_b) == (3, 2)
        assert isinstance(bad, OSError)
        # acknowledged means readable: the good requests' events are committed
        assert store.query("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 5}]
    finally:
        writer.close()
        store.close()
    with pytest.raises(WriterClosed):
        asyncio.run(writer.submit(_events("late", 1)))

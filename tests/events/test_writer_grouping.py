"""The group-commit writer waits for announced requests, and only for them."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import uuid
from collections.abc import Iterator

import pytest

from yunying.events.model import Event, utcnow
from yunying.events.writer import IngestWriter
from yunying.store.duckdb import DuckDBStore


def _run(coro):  # type: ignore[no-untyped-def]
    """``asyncio.run`` in a thread of its own: an earlier test in the same process (the
    browser tests) may leave an event loop running in the main thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


FLUSH_MS = 5_000  # far longer than any test waits: a commit held this long is a failure


class _CountingStore(DuckDBStore):
    """Records the number of events of each commit."""

    def __init__(self) -> None:
        super().__init__()
        self.commits: list[int] = []

    def write(self, batch):  # type: ignore[no-untyped-def]
        self.commits.append(len(batch.events))
        return super().write(batch)


@pytest.fixture
def store() -> Iterator[_CountingStore]:
    s = _CountingStore()
    s.ensure_schema()
    yield s
    s.close()


@pytest.fixture
def writer(store: _CountingStore) -> Iterator[IngestWriter]:
    w = IngestWriter(store, flush_ms=FLUSH_MS, max_batch=10_000)
    w.start()
    yield w
    w.close()


def _events(name: str, n: int) -> list[Event]:
    now = utcnow()
    return [Event(str(uuid.uuid4()), 1, name, "u", now, now, {}) for _ in range(n)]


def _stored(store: DuckDBStore) -> int:
    return store.query("SELECT count(*) AS n FROM events").to_pylist()[0]["n"]


def test_an_announced_request_shares_the_commit(writer, store):
    async def main() -> tuple[int, int, bool]:
        with writer.arriving() as arrival:
            first = asyncio.ensure_future(writer.submit(_events("a", 3)))
            await asyncio.sleep(0.3)  # the announced request is still being parsed
            held = not first.done()
            second = await writer.submit(_events("b", 2), arrival)
        return await first, second, held

    first, second, held = _run(main())
    assert held  # the commit waited for the announced request ...
    assert (first, second) == (3, 2)
    assert store.commits == [5]  # ... and both went in one transaction
    assert _stored(store) == 5


def test_an_announcement_that_brings_no_events_releases_the_commit(writer, store):
    async def main() -> tuple[int, bool, float]:
        with writer.arriving():
            first = asyncio.ensure_future(writer.submit(_events("a", 3)))
            await asyncio.sleep(0.2)
            held = not first.done()
            ended = time.monotonic()
        # the announced request failed (a 400, say) and never submits
        return await first, held, time.monotonic() - ended

    acked, held, waited = _run(main())
    assert held
    assert acked == 3
    assert waited < FLUSH_MS / 1000 / 2  # released when the announcement ended
    assert store.commits == [3]


def test_without_announcements_a_request_is_not_held(writer, store):
    async def main() -> tuple[int, float]:
        t0 = time.monotonic()
        acked = await writer.submit(_events("a", 4))
        return acked, time.monotonic() - t0

    acked, took = _run(main())
    assert acked == 4
    assert took < FLUSH_MS / 1000 / 2
    assert store.commits == [4]


def test_an_empty_submit_ends_its_announcement(writer, store):
    async def main() -> tuple[int, int, float]:
        with writer.arriving() as arrival:
            first = asyncio.ensure_future(writer.submit(_events("a", 2)))
            await asyncio.sleep(0.1)
            nothing = await writer.submit([], arrival)
            ended = time.monotonic()
            acked = await first  # not held until the block ends
        return nothing, acked, time.monotonic() - ended

    nothing, acked, waited = _run(main())
    assert (nothing, acked) == (0, 2)
    assert waited < FLUSH_MS / 1000 / 2
    assert store.commits == [2]


def test_unannounced_requests_are_not_held_after_a_group(writer, store):
    async def main() -> tuple[list[int], int, float]:
        first = await asyncio.gather(*(writer.submit(_events("a", 1)) for _ in range(3)))
        t0 = time.monotonic()
        acked = await writer.submit(_events("b", 2))
        return first, acked, time.monotonic() - t0

    first, acked, took = _run(main())
    assert (first, acked) == ([1, 1, 1], 2)
    assert took < FLUSH_MS / 1000 / 2
    assert sum(store.commits) == 5


def test_a_commit_waits_for_the_clients_it_just_answered(writer, store):
    """Two clients answered together come back one after the other: one commit again."""

    async def client(name: str, delay: float) -> int:
        await asyncio.sleep(delay)
        with writer.arriving() as arrival:
            return await writer.submit(_events(name, 2), arrival)

    async def main() -> tuple[list[int], list[int]]:
        with writer.arriving() as a1, writer.arriving() as a2:
            first = await asyncio.gather(
                writer.submit(_events("a", 1), a1), writer.submit(_events("b", 1), a2)
            )
        # their next requests: the second starts well after the first is queued
        second = await asyncio.gather(client("c", 0.0), client("d", 0.3))
        return first, second

    first, second = _run(main())
    assert (first, second) == ([1, 1], [2, 2])
    assert store.commits == [2, 4]

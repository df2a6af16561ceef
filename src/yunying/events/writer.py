"""Group commit for HTTP ingest: many requests, one durable write, then every ack.

A request hands its events to the writer and waits; one background thread takes whatever
has queued (up to ``max_batch`` events, waiting at most ``flush_ms`` for more while they
keep arriving), writes it in one transaction through ``write_events`` and only then
resolves each waiting request. So a 2xx always means "committed", while the store sees
few, large transactions: requests that arrive during a commit share the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from yunying.events.gc_pause import freeze_startup_heap, gc_paused, thaw
from yunying.events.model import Event
from yunying.events.pipeline import write_events
from yunying.store.base import EventStore

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    events: Sequence[Event]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[int]


# The longest pause between two requests that still joins them in one commit.
LINGER_GAP_S = 0.001


class WriterClosed(RuntimeError):
    pass


class IngestWriter:
    def __init__(self, store: EventStore, *, flush_ms: int = 20, max_batch: int = 20_000) -> None:
        self._store = store
        self._flush_s = flush_ms / 1000
        self._max_batch = max_batch
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="yunying-ingest", daemon=True)
        self._closed = False
        self._started = False

    def start(self) -> None:
        freeze_startup_heap()  # see gc_pause: keeps full collections off the hot path
        self._started = True
        self._thread.start()

    async def submit(self, events: Sequence[Event]) -> int:
        """Resolve (to the number of events) once ``events`` are durably stored.

        Raises if the write failed, so the request can answer 5xx and the SDK retries.
        """
        if self._closed:
            raise WriterClosed("ingest writer is shut down")
        if not events:
            return 0
        loop = asyncio.get_running_loop()
        pending = _Pending(events, loop, loop.create_future())
        self._queue.put(pending)
        return await pending.future

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking work, finish what is queued, and join the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)
        if self._started:
            thaw()

    def _take(self) -> tuple[list[_Pending], bool]:
        first = self._queue.get()
        if first is None:
            return [], True
        group, size = [first], len(first.events)
        deadline = time.monotonic() + self._flush_s
        stop = False
        while size < self._max_batch:
            # Wait only while requests keep coming: a pause means the senders are waiting
            # for this commit (clients that send one request at a time), and waiting
            # longer would only idle both sides.
            wait = min(deadline - time.monotonic(), LINGER_GAP_S)
            try:
                item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                stop = True
                break
            group.append(item)
            size += len(item.events)
        return group, stop

    def _run(self) -> None:
        stop = False
        while not stop:
            group, stop = self._take()
            if not group:
                continue
            self._commit(group)

    def _commit(self, group: list[_Pending]) -> None:
        events = [e for p in group for e in p.events]
        try:
            with gc_paused():
                summary = write_events(self._store, events)
        except Exception as exc:
            if len(group) > 1:
                # One bad request must not fail the others forever (SDKs retry 5xx):
                # commit each request on its own, so only the culprit learns of it.
                log.warning("ingest group commit failed (%s); retrying per request", exc)
                for p in group:
                    self._commit([p])
                return
            log.exception("ingest write failed")
            _notify(group[0], _set_exception, exc)
            return
        log.debug("ingest commit: %s events, %s new", summary.received, summary.inserted)
        # Duplicates are accepted silently (as PostHog does): each request learns only
        # that all of its events are durable.
        for p in group:
            _notify(p, _set_result, len(p.events))


def _notify(p: _Pending, setter: Callable[[asyncio.Future[int], Any], None], value: Any) -> None:
    # RuntimeError: the request's event loop is gone (server shutting down).
    with contextlib.suppress(RuntimeError):
        p.loop.call_soon_threadsafe(setter, p.future, value)


def _set_result(fut: asyncio.Future[int], value: int) -> None:
    if not fut.done():
        fut.set_result(value)


def _set_exception(fut: asyncio.Future[int], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)

"""Run the job queue inside the server process (the embedded default).

With DuckDB only one process may open the event store, so a separate ``yunying worker``
cannot run next to ``yunying serve``; the server then runs Huey's scheduler and workers as
threads and shares its open store with the jobs (``resources.share_store``). Huey's signal
handlers are not installed: the server owns SIGINT/SIGTERM.
"""

from __future__ import annotations

from collections.abc import Callable

from huey.consumer import Consumer

from yunying.config import Settings
from yunying.jobs.queue import build_queue
from yunying.jobs.resources import share_store
from yunying.store.base import EventStore


class _QuietConsumer(Consumer):
    def _set_signal_handlers(self) -> None:  # the host process handles signals
        pass


def start_embedded_worker(
    settings: Settings, store: EventStore, *, workers: int = 1
) -> Callable[[], None]:
    """Start consuming in background threads; returns a function that stops them."""
    queue = build_queue(settings)
    share_store(store)
    consumer = _QuietConsumer(
        queue.huey, workers=workers, periodic=True, worker_type="thread", max_delay=2.0
    )
    consumer.start()

    def stop() -> None:
        consumer.stop(graceful=True)
        share_store(None)

    return stop

"""Internal events: domain happenings other packages react to, without being called ad hoc.

A happening (a person entered a segment, left it, …) is a small frozen dataclass sent
through ``emit``; whoever cares registers a handler with ``subscribe``. Campaigns trigger on
segment entries this way instead of the segment code knowing about campaigns (the pattern
of Datasette's ``datasette/events.py``).

Handlers run synchronously in the emitting thread, in subscription order. A failing
handler is logged and does not stop the others or the emitter: a refresh that already
committed its history must not be undone by a subscriber's bug.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InternalEvent:
    """Base of every internal event; ``project_id`` scopes it."""

    project_id: int


@dataclass(frozen=True, slots=True)
class SegmentEntered(InternalEvent):
    """A person became a member of a segment in a refresh (or a static upload)."""

    segment_id: int
    person_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class SegmentLeft(InternalEvent):
    """A person stopped being a member of a segment."""

    segment_id: int
    person_id: str
    at: datetime


E = TypeVar("E", bound=InternalEvent)
Handler = Callable[[Any], None]

_handlers: dict[type[InternalEvent], list[Handler]] = {}
_lock = threading.Lock()


def subscribe(event_type: type[E], handler: Callable[[E], None]) -> Callable[[], None]:
    """Call ``handler`` for every emitted ``event_type`` (subclasses included).

    Returns a function that removes the subscription again (tests, reloads).
    """
    with _lock:
        _handlers.setdefault(event_type, []).append(handler)

    def unsubscribe() -> None:
        with _lock:
            found = _handlers.get(event_type, [])
            if handler in found:
                found.remove(handler)

    return unsubscribe


def has_subscribers(event_type: type[InternalEvent]) -> bool:
    """Whether emitting ``event_type`` would reach anyone (lets emitters skip work)."""
    with _lock:
        return any(issubclass(event_type, t) and hs for t, hs in _handlers.items() if hs)


def emit(event: InternalEvent) -> None:
    """Deliver ``event`` to every handler subscribed to its type or a base type."""
    with _lock:
        targets = [h for t, hs in _handlers.items() if isinstance(event, t) for h in hs]
    for handler in targets:
        try:
            handler(event)
        except Exception:  # a subscriber's bug must not break the emitter
            log.exception("internal event handler %r failed on %r", handler, event)


__all__ = [
    "InternalEvent",
    "SegmentEntered",
    "SegmentLeft",
    "emit",
    "has_subscribers",
    "subscribe",
]

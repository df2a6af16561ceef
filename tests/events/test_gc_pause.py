"""The collector pause used on the ingest hot paths: counted, restored, never unbounded."""

from __future__ import annotations

import gc
import threading

from yunying.events import gc_pause
from yunying.events.gc_pause import gc_paused


def test_nested_and_overlapping_pauses_restore_the_collector():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()


def test_pauses_from_two_threads_overlap():
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with gc_paused():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    with gc_paused():
        pass
    assert not gc.isenabled()  # the other thread's pause is still on
    release.set()
    t.join(5)
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_pauses_still_collect_when_much_is_deferred(monkeypatch):
    monkeypatch.setattr(gc_pause, "MAX_DEFERRED", 100)
    collected = []
    monkeypatch.setattr(gc, "collect", lambda generation=2: collected.append(generation))
    with gc_paused():
        with gc_paused():
            junk = [[] for _ in range(1000)]  # containers the collector has not seen
        assert collected == [0]
    del junk

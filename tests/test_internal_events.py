"""Internal events: one emit, many subscribers, failures contained."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from yunying.internal_events import (
    InternalEvent,
    SegmentEntered,
    SegmentLeft,
    emit,
    has_subscribers,
    subscribe,
)

AT = datetime(2024, 1, 1, tzinfo=UTC)


def test_subscribers_get_their_type_only() -> None:
    entered: list[SegmentEntered] = []
    left: list[SegmentLeft] = []
    everything: list[InternalEvent] = []
    offs = [
        subscribe(SegmentEntered, entered.append),
        subscribe(SegmentLeft, left.append),
        subscribe(InternalEvent, everything.append),
    ]
    try:
        e = SegmentEntered(project_id=1, segment_id=2, person_id="p", at=AT)
        x = SegmentLeft(project_id=1, segment_id=2, person_id="q", at=AT)
        emit(e)
        emit(x)
        assert entered == [e]
        assert left == [x]
        assert everything == [e, x]
    finally:
        for off in offs:
            off()
    emit(SegmentEntered(project_id=1, segment_id=2, person_id="p", at=AT))
    assert len(entered) == 1  # unsubscribed


def test_failing_handler_does_not_stop_others(caplog: pytest.LogCaptureFixture) -> None:
    got: list[SegmentEntered] = []

    def boom(_: SegmentEntered) -> None:
        raise RuntimeError("subscriber bug")

    offs = [subscribe(SegmentEntered, boom), subscribe(SegmentEntered, got.append)]
    try:
        emit(SegmentEntered(project_id=1, segment_id=1, person_id="a", at=AT))
    finally:
        for off in offs:
            off()
    assert len(got) == 1
    assert "subscriber bug" in caplog.text


def test_events_are_frozen_and_has_subscribers() -> None:
    e = SegmentLeft(project_id=1, segment_id=1, person_id="a", at=AT)
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.person_id = "b"  # type: ignore[misc]
    assert not has_subscribers(SegmentLeft)
    off = subscribe(SegmentLeft, lambda _: None)
    assert has_subscribers(SegmentLeft)
    off()
    assert not has_subscribers(SegmentLeft)

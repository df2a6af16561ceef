"""The demo's time axis: seconds since local midnight of the first day.

The simulation works in local seconds (so "8 pm" and "Saturday" mean what a person in the
project's time zone lives by) and converts to UTC only when events are written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

DAY = 86_400


@dataclass(frozen=True)
class Calendar:
    first_day: date
    days: int
    timezone: str
    cutoff: int  # local seconds: no event at or after this (end of window, or "now")

    @property
    def end(self) -> int:
        """Local seconds at the end of the last day: the simulation always runs to here.

        Only writing stops at ``cutoff``, so re-running on the same day reproduces the same
        events (and ids) and merely adds those that have happened since.
        """
        return self.days * DAY

    @classmethod
    def ending(
        cls, end: date | None, days: int, timezone: str, now: datetime | None = None
    ) -> Calendar:
        """``days`` local days ending with ``end`` (default: today, cut at the current time)."""
        if days < 1:
            raise ValueError("days must be at least 1")
        tz = ZoneInfo(timezone)
        cut_at_now = end is None
        now = (now or datetime.now(UTC)).astimezone(tz)
        last = end or now.date()
        first = last - timedelta(days=days - 1)
        cal = cls(first, days, timezone, days * DAY)
        if cut_at_now:
            local = now.replace(tzinfo=None) - datetime.combine(first, time(0))
            cal = cls(first, days, timezone, min(days * DAY, int(local.total_seconds())))
        return cal

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=self.days - 1)

    def weekday(self) -> np.ndarray:
        """ISO weekday index (0 = Monday) of every day of the window."""
        start = self.first_day.weekday()
        return (start + np.arange(self.days)) % 7

    def utc_micros(self, local_seconds: np.ndarray) -> np.ndarray:
        """Local seconds → UTC epoch microseconds (offset taken at each day's midnight)."""
        tz = ZoneInfo(self.timezone)
        offsets = np.array(
            [
                int(
                    datetime.combine(self.first_day + timedelta(days=d), time(0), tzinfo=tz)
                    .utcoffset()
                    .total_seconds()  # type: ignore[union-attr]
                )
                for d in range(self.days + 1)
            ],
            dtype=np.int64,
        )
        base = int(datetime.combine(self.first_day, time(0), tzinfo=UTC).timestamp())
        day = np.clip(local_seconds // DAY, 0, self.days)
        return (base + local_seconds - offsets[day]) * 1_000_000

"""What a metric needs to know about the project it runs for.

A plain dataclass (not the ORM row) so analytics never touches the operational store.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from yunying.store.person_days import RollupView, rollup_view


@dataclass(frozen=True, slots=True)
class ProjectContext:
    project_id: int
    timezone: str = "Asia/Shanghai"
    week_start: int = 1  # ISO weekday the week starts on: 1 = Monday, 7 = Sunday
    activation_event: str | None = None
    revenue_property: str = "$revenue"
    signup_event: str | None = None
    invite_sent_event: str = "invite_sent"
    invite_accepted_event: str = "invite_accepted"
    extra: dict[str, str] = field(default_factory=dict)
    # person_days may answer day-grained metrics (store/person_days.py); set by with_rollup.
    rollup: RollupView | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def day_start_utc(self, d: date) -> datetime:
        """The UTC instant at which local calendar day ``d`` begins."""
        return datetime.combine(d, time(0), tzinfo=self.tz).astimezone(UTC)

    def day_range_utc(self, date_from: date, date_to: date) -> tuple[datetime, datetime]:
        """[start, end) in UTC covering local days ``date_from`` … ``date_to`` inclusive."""
        return self.day_start_utc(date_from), self.day_start_utc(date_to + timedelta(days=1))

    def today(self) -> date:
        return datetime.now(self.tz).date()


def with_rollup(store: object, ctx: ProjectContext) -> ProjectContext:
    """``ctx`` with the store's ``person_days`` state, read now (one small query)."""
    return replace(ctx, rollup=rollup_view(store, ctx.project_id, ctx.timezone))

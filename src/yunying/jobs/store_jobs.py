"""Event-store upkeep: bring ``person_days`` and ``event_timelines`` up to date (see
``store/person_days.py`` and ``store/event_timelines.py``; one refresh keeps both).

Hourly is enough for speed: days written since the last refresh are read from events,
which for live traffic is today alone; answers are exact either way.
"""

from __future__ import annotations

from typing import Any

from yunying.config import Settings
from yunying.jobs.registry import JobSpec
from yunying.jobs.resources import job_session, job_store


def refresh_person_days(settings: Settings, project_id: int) -> dict[str, Any]:
    """Rebuild the project's stale person-days (all of them if its zone changed)."""
    from yunying.db.projects import get_project
    from yunying.store.person_days import refresh_if_kept

    with job_session(settings) as session:
        tz = get_project(session, project_id).timezone
    with job_store(settings) as store:
        done = refresh_if_kept(store, project_id, tz)
    if done is None:
        return {"kept": False}
    return {
        "kept": True,
        "full": done.full,
        "days": done.days,
        "timelines_rewritten": done.timelines_full,
    }


JOBS: list[JobSpec] = [
    JobSpec(
        "store.person_days",
        refresh_person_days,
        "hourly",
        "Refresh the per person-day table and the event timelines that metrics and funnels read.",
    )
]

"""Segment jobs: recompute every dynamic and system segment of a project."""

from __future__ import annotations

from typing import Any

from yunying.config import Settings
from yunying.jobs.registry import JobSpec
from yunying.jobs.resources import job_session, job_store


def refresh_segments(settings: Settings, project_id: int) -> dict[str, Any]:
    """Refresh each dynamic/system segment; idempotent (see people/segments/refresh.py)."""
    from yunying.db.projects import context_for, get_project
    from yunying.people.segments.service import refresh_all

    with job_session(settings) as session, job_store(settings) as store:
        ctx = context_for(get_project(session, project_id))
        results = refresh_all(session=session, store=store, ctx=ctx)
    return {
        "segments": len(results),
        "entered": sum(r.entered for r in results),
        "left": sum(r.left for r in results),
    }


JOBS: list[JobSpec] = [
    JobSpec(
        "segments.refresh",
        refresh_segments,
        "hourly",
        "Recompute dynamic segments and record who entered or left.",
    )
]

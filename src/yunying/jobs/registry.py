"""The job registry: each domain module lists its jobs as ``JOBS: list[JobSpec]``.

Like ``api/routers.py``, modules are named here and imported lazily, so adding a job is one
line here plus the module. A job is ``function(settings, project_id)``: it opens what it
needs with ``yunying.jobs.resources`` and must be idempotent (Huey may retry it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from yunying.config import Settings

Schedule = Literal["hourly", "daily", "manual"]

_JOB_MODULES = [
    "yunying.jobs.segment_jobs",
    "yunying.jobs.store_jobs",
    "yunying.people.layer_jobs",
    "yunying.people.churn_jobs",
]


@dataclass(frozen=True)
class JobSpec:
    """A named job run per project; ``schedule`` is when the periodic scheduler runs it
    for every project ("manual": only on demand)."""

    name: str
    function: Callable[[Settings, int], Any]
    schedule: Schedule = "daily"
    description: str = ""


def all_jobs() -> dict[str, JobSpec]:
    """Every registered job by name (a duplicate name is a programming error)."""
    out: dict[str, JobSpec] = {}
    for module in _JOB_MODULES:
        for spec in importlib.import_module(module).JOBS:
            if spec.name in out:
                raise RuntimeError(f"job {spec.name!r} is registered twice")
            out[spec.name] = spec
    return out


def get_job(name: str) -> JobSpec:
    jobs = all_jobs()
    if name not in jobs:
        raise KeyError(f"no job named {name!r}; known: {', '.join(sorted(jobs)) or 'none'}")
    return jobs[name]


def jobs_on(schedule: Schedule) -> list[JobSpec]:
    return [j for j in all_jobs().values() if j.schedule == schedule]


def project_ids(settings: Settings) -> list[int]:
    """Every project of the operational store (periodic jobs run for each)."""
    from yunying.db.projects import list_projects
    from yunying.jobs.resources import job_session

    with job_session(settings) as session:
        return [p.id for p in list_projects(session)]


def run_job(settings: Settings, name: str, project_id: int) -> Any:
    """Run one job for one project, now, in this process."""
    return get_job(name).function(settings, project_id)

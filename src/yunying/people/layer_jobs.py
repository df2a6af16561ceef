"""Layer jobs: recompute RFM groups and activity layers of a project and publish them.

Idempotent: a run publishes new derived runs of ``rfm:group``, ``rfm:score`` and
``layer:activity`` as of the project's today; a retry publishes the same values again (a
reader sees the newest complete run, older runs are pruned).
"""

from __future__ import annotations

from typing import Any

from yunying.config import Settings
from yunying.jobs.registry import JobSpec
from yunying.jobs.resources import job_session, job_store


def run_layers(settings: Settings, project_id: int) -> dict[str, Any]:
    """Compute and publish the project's RFM groups and activity layers (as of today)."""
    from yunying.db.projects import context_for, get_project
    from yunying.people.layer_service import compute_and_publish, settings_for

    with job_session(settings) as session, job_store(settings) as store:
        ctx = context_for(get_project(session, project_id))
        report = compute_and_publish(
            store=store, ctx=ctx, settings=settings_for(session, ctx.project_id)
        )
    return {
        "as_of": report.as_of.isoformat(),
        "buyers": report.rfm.buyers,
        "persons": report.layers.persons,
        "seconds": round(report.seconds, 3),
    }


JOBS: list[JobSpec] = [
    JobSpec(
        "layers.compute",
        run_layers,
        "daily",
        "Recompute RFM groups and activity layers and publish them for segments and profiles.",
    )
]

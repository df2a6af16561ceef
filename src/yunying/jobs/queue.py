"""The task queue: Huey on a SQLite file (default) or Redis, same tasks either way.

Two kinds of task:
- ``run_job(name, project_id)``: one registered job for one project (retried twice on
  failure; jobs are idempotent, so a retry is safe);
- periodic ticks (hourly at minute 5, daily at 03:15 UTC) that enqueue ``run_job`` for every
  job on that schedule and every project, so one slow project does not hold up others.
``immediate=True`` runs tasks synchronously in the caller (tests).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab

from yunying.config import Settings
from yunying.jobs import registry

log = logging.getLogger(__name__)

RETRIES = 2
RETRY_DELAY_SECONDS = 30
SCHEDULES = {
    "hourly": crontab(minute="5"),
    "daily": crontab(hour="3", minute="15"),
}


@dataclass
class JobQueue:
    """A Huey instance with Yunying's tasks registered on it."""

    huey: Huey
    run_job: Any  # the Huey task: run_job(name, project_id)
    ticks: dict[str, Any]  # schedule → periodic task
    settings: Settings

    def enqueue(self, name: str, project_id: int) -> Any:
        registry.get_job(name)  # fail here, not in the worker, for an unknown name
        return self.run_job(name, project_id)

    def enqueue_schedule(self, schedule: str) -> int:
        """What a periodic tick does: one task per (job on ``schedule``, project)."""
        return enqueue_for_projects(self, schedule)


def make_huey(settings: Settings, *, immediate: bool = False, name: str = "yunying") -> Huey:
    if immediate:
        return MemoryHuey(name, immediate=True)
    if settings.redis_url:
        return RedisHuey(name, url=settings.redis_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(settings.data_dir / "jobs.sqlite3"))


def enqueue_for_projects(queue: JobQueue, schedule: str) -> int:
    if schedule not in SCHEDULES:
        raise ValueError(f"no periodic schedule {schedule!r} (manual jobs run on demand)")
    jobs = registry.jobs_on(schedule)  # type: ignore[arg-type]
    if not jobs:
        return 0
    n = 0
    for project_id in registry.project_ids(queue.settings):
        for job in jobs:
            queue.run_job(job.name, project_id)
            n += 1
    log.info("%s tick: enqueued %d job runs", schedule, n)
    return n


def build_queue(
    settings: Settings, *, immediate: bool = False, periodic: bool = True, name: str = "yunying"
) -> JobQueue:
    """A queue for ``settings`` with ``run_job`` and (unless ``periodic=False``) the ticks."""
    huey = make_huey(settings, immediate=immediate, name=name)

    @huey.task(retries=RETRIES, retry_delay=RETRY_DELAY_SECONDS, name="run_job")
    def run_job(job_name: str, project_id: int) -> Any:
        log.info("job %s for project %s", job_name, project_id)
        return registry.run_job(settings, job_name, int(project_id))

    queue = JobQueue(huey, run_job, {}, settings)
    if periodic:
        for schedule, when in SCHEDULES.items():

            def tick(schedule: str = schedule) -> int:
                return enqueue_for_projects(queue, schedule)

            queue.ticks[schedule] = huey.periodic_task(when, name=f"tick_{schedule}")(tick)
    return queue


def run_worker(settings: Settings, *, workers: int = 2, periodic: bool = True) -> None:
    """Consume tasks (and run the periodic ticks) until interrupted."""
    queue = build_queue(settings, periodic=periodic)
    consumer = queue.huey.create_consumer(workers=workers, periodic=periodic, worker_type="thread")
    consumer.run()

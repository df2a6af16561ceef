"""The job queue: registry, immediate mode, the SQLite and Redis queues, periodic ticks,
the embedded worker, and the CLI."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import in_ci
from tests.jobs.conftest import Env, last_count, make_env
from yunying.cli.main import app
from yunying.jobs import registry
from yunying.jobs.embedded import start_embedded_worker
from yunying.jobs.queue import build_queue
from yunying.store.base import open_event_store

REDIS_URL = os.environ.get("YUNYING_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_registry_lists_every_module() -> None:
    jobs = registry.all_jobs()
    assert jobs["segments.refresh"].schedule == "hourly"
    assert {j.name for j in registry.jobs_on("hourly")} >= {"segments.refresh"}
    with pytest.raises(KeyError, match="no job named"):
        registry.get_job("nope")


def test_immediate_mode_runs_in_the_caller(env: Env) -> None:
    queue = build_queue(env.settings, immediate=True)
    result = queue.enqueue("segments.refresh", env.project_id)
    assert result() == {"segments": 1, "entered": 2, "left": 0}
    assert last_count(env) == 2
    again = queue.enqueue("segments.refresh", env.project_id)()
    assert again == {"segments": 1, "entered": 0, "left": 0}  # idempotent


def test_person_days_job_refreshes_the_table(env: Env) -> None:
    first = registry.run_job(env.settings, "store.person_days", env.project_id)
    # never built: both tables built whole
    assert first == {"kept": True, "full": True, "days": 1, "timelines_rewritten": True}
    again = registry.run_job(env.settings, "store.person_days", env.project_id)
    # nothing written since
    assert again == {"kept": True, "full": False, "days": 0, "timelines_rewritten": False}
    store = open_event_store(env.settings, read_only=True)
    try:
        view = store.person_days_view(env.project_id, "Asia/Shanghai")  # type: ignore[attr-defined]
        assert view is not None and not view.dirty
        timelines = store.event_timelines_view(env.project_id)  # type: ignore[attr-defined]
        assert timelines is not None and not timelines.dirty
    finally:
        store.close()


def _drain(queue: object) -> int:
    huey = queue.huey  # type: ignore[attr-defined]
    n = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        n += 1
    return n


def test_sqlite_queue_and_periodic_tick(env: Env) -> None:
    queue = build_queue(env.settings)
    assert (env.settings.data_dir / "jobs.sqlite3").exists()
    assert queue.enqueue_schedule("hourly") == 2 * len(registry.jobs_on("hourly"))  # 2 projects
    assert queue.huey.pending_count() == 2 * len(registry.jobs_on("hourly"))
    assert _drain(queue) >= 2
    assert last_count(env) == 2
    with pytest.raises(ValueError, match="manual"):
        queue.enqueue_schedule("manual")


def _redis_available() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False


@pytest.mark.redis
def test_redis_queue(tmp_path: Path) -> None:
    if not _redis_available():
        if in_ci():
            pytest.fail(f"Redis is required under CI (not reachable at {REDIS_URL})")
        pytest.skip("no Redis server")
    env = make_env(tmp_path / "data", redis_url=REDIS_URL)
    queue = build_queue(env.settings, name=f"yunying-test-{uuid.uuid4().hex[:8]}")
    try:
        queue.huey.flush()
        queue.enqueue("segments.refresh", env.project_id)
        assert queue.huey.pending_count() == 1
        assert not (env.settings.data_dir / "jobs.sqlite3").exists()
        assert _drain(queue) == 1
        assert last_count(env) == 2
    finally:
        queue.huey.flush()


def test_embedded_worker_shares_the_servers_store(env: Env) -> None:
    store = open_event_store(env.settings)  # the "server" holds the DuckDB file
    stop = start_embedded_worker(env.settings, store)
    try:
        queue = build_queue(env.settings, periodic=False)
        queue.enqueue("segments.refresh", env.project_id)
        deadline = time.monotonic() + 20
        while last_count(env) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert last_count(env) == 2
    finally:
        stop()
        store.close()


def test_cli_runs_a_job_now(env: Env) -> None:
    runner = CliRunner(env={"COLUMNS": "200", "YUNYING_DATABASE_URL": None})
    data = ["--data-dir", str(env.settings.data_dir)]
    result = runner.invoke(
        app, ["jobs", "run", "segments.refresh", "--project", str(env.project_id), *data]
    )
    assert result.exit_code == 0, result.output
    assert last_count(env) == 2
    result = runner.invoke(
        app, ["jobs", "run", "segments.refresh", "--all-projects", "--format", "json", *data]
    )
    assert result.exit_code == 0, result.output
    assert '"entered": 0' in result.stdout
    bad = runner.invoke(app, ["jobs", "run", "nope", *data])
    assert bad.exit_code == 2 and "no job named" in bad.stderr
    listed = runner.invoke(app, ["jobs", "list", "--format", "csv"])
    assert "segments.refresh,hourly" in listed.stdout
    assert runner.invoke(app, ["worker", "--help"]).exit_code == 0

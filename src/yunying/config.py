"""One Settings object for the whole process; every knob is an env var ``YUNYING_*``.

Why one object: the API, CLI, jobs and tests must agree on where data lives and which
engines are in use, so they all build their components from the same settings.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from yunying.store.timeline_cache import DEFAULT_MB as TIMELINE_CACHE_MB


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YUNYING_", extra="ignore")

    data_dir: Path = Field(default=Path("yunying-data"), description="Folder for embedded stores.")
    database_url: str | None = Field(
        default=None,
        description="Operational store URL (SQLAlchemy). Default: SQLite file in data_dir.",
    )
    event_store: Literal["duckdb", "clickhouse"] = "duckdb"
    clickhouse_url: str | None = Field(
        default=None,
        description="ClickHouse server (http://user:pass@host:8123/db). Unset with "
        "event_store=clickhouse means in-process chdb under data_dir.",
    )
    redis_url: str | None = None
    embedded_worker: bool | None = Field(
        default=None,
        description="Run the job queue (segment refresh, scoring) inside the server process; "
        "needed with DuckDB, which one process opens at a time. Unset: `yunying serve` runs "
        "it unless a ClickHouse server and Redis let a separate `yunying worker` do the jobs.",
    )
    timeline_cache_mb: int = Field(
        default=TIMELINE_CACHE_MB,
        ge=0,
        description="Memory for decoded event_timelines months that ordered funnels reuse "
        "(DuckDB only; 0 keeps none and reads every month from the file each time).",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = Field(default=20 * 1024 * 1024, description="Largest ingest body.")
    ingest_flush_ms: int = Field(default=20, description="Group-commit wait for ingest batches.")
    ingest_max_batch: int = Field(default=20_000, description="Most events in one commit.")
    default_timezone: str = "Asia/Shanghai"
    cookie_secure: bool = Field(
        default=False,
        description="Always mark console cookies Secure (set when behind a TLS proxy that "
        "forwards plain http). Requests over https get Secure cookies regardless.",
    )
    session_max_age_hours: int = Field(default=24 * 14, description="Console sign-in lifetime.")
    session_idle_minutes: int = Field(
        default=60 * 12, description="A console session unused this long is signed out."
    )
    login_max_failures: int = Field(
        default=5, description="Failed sign-ins per email and IP before sign-in is refused."
    )
    login_window_minutes: int = Field(default=15, description="Window for login_max_failures.")

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'yunying.sqlite3').resolve()}"

    @property
    def duckdb_path(self) -> Path:
        return self.data_dir / "events.duckdb"

    @property
    def chdb_path(self) -> Path:
        return self.data_dir / "events.chdb"


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides (tests, CLI flags)."""
    return Settings(**overrides)  # type: ignore[arg-type]

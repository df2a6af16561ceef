"""Background jobs: segment refresh, layers, churn scoring (DESIGN.md "Jobs").

Jobs are registered per domain module (``registry._JOB_MODULES``), run on Huey — a SQLite
file in the data folder by default, Redis when ``YUNYING_REDIS_URL`` is set — and are
idempotent, so a crash and retry never duplicates their effects.
"""

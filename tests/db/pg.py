"""A throw-away PostgreSQL database per test, on the server at 127.0.0.1:5432.

Skipped only when the server is unreachable and ``CI`` is unset; under CI an unreachable
server fails the test, so a broken CI set-up cannot pass silently.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

ADMIN_URL = os.environ.get(
    "YUNYING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _admin_connection():  # type: ignore[no-untyped-def]
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - dev extra missing
        if in_ci():
            pytest.fail(f"psycopg is not installed (CI is set): {exc}")
        pytest.skip("psycopg is not installed")
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if in_ci():
            pytest.fail(f"PostgreSQL at {ADMIN_URL} is unreachable and CI is set: {exc}")
        pytest.skip(f"PostgreSQL at {ADMIN_URL} is unreachable: {exc}")


def database_url(name: str) -> str:
    base = ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


@contextmanager
def temporary_database() -> Iterator[str]:
    """Create ``yunying_test_<random>``, yield its URL, drop it afterwards."""
    name = f"yunying_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_connection()
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield database_url(name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()

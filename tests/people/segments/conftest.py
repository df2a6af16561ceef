"""Fixtures for the segment services: the operational store (SQLite and PostgreSQL, as
tests/db uses) plus the event-store fixtures from tests/conftest.py."""

from tests.db.conftest import db_url, postgres_url, session

__all__ = ["db_url", "postgres_url", "session"]

"""Shared fixtures: a fresh event store per test on each engine."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from yunying.store.base import EventStore
from yunying.store.duckdb import DuckDBStore

ENGINES = ["duckdb", "clickhouse"]


def make_store(engine: str) -> EventStore:
    if engine == "duckdb":
        store: EventStore = DuckDBStore()
    else:
        from yunying.store.clickhouse import ClickHouseStore

        store = ClickHouseStore.in_process(database=f"t_{uuid.uuid4().hex[:12]}")
    store.ensure_schema()
    return store


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest) -> Iterator[EventStore]:
    """A fresh, empty event store; the test runs once per engine."""
    s = make_store(request.param)
    yield s
    s.close()


@pytest.fixture
def duck() -> Iterator[EventStore]:
    s = make_store("duckdb")
    yield s
    s.close()


@pytest.fixture
def both() -> Iterator[tuple[EventStore, EventStore]]:
    """A DuckDB and a ClickHouse store, for tests that compare the two engines' answers."""
    a, b = make_store("duckdb"), make_store("clickhouse")
    yield a, b
    a.close()
    b.close()


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")

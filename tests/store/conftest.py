"""A ClickHouse HTTP endpoint for the server-path tests (see tests/support/clickhouse_http.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from tests.support.clickhouse_http import Running, spawn
from yunying.store.clickhouse import ClickHouseStore, _Server

USER, PASSWORD = "yunying", "s3cret:/@"
# Neither UTC nor the projects' zone: answers must not lean on the server's time zone.
SERVER_TZ = "Asia/Kolkata"


@pytest.fixture(scope="session")
def clickhouse_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One harness process for the session: chdb behind ClickHouse's HTTP interface."""
    data = tmp_path_factory.mktemp("clickhouse-http")
    with spawn(data, user=USER, password=PASSWORD, timezone=SERVER_TZ) as running:
        yield running


def server_url(running: Running, path: str = "", query: str = "", password: str = PASSWORD) -> str:
    """``http://user:password@host:port/path?query``, credentials escaped as a URL needs."""
    netloc = f"{quote(USER, safe='')}:{quote(password, safe='')}@{running.host}:{running.port}"
    return urlunsplit((urlsplit(running.url).scheme, netloc, path, query, ""))


@pytest.fixture
def server_store(clickhouse_http: Running) -> Iterator[ClickHouseStore]:
    """A fresh, empty store in its own database on the server."""
    db = f"s_{uuid.uuid4().hex[:12]}"
    store = ClickHouseStore(_Server(server_url(clickhouse_http, f"/{db}")), db)
    store.ensure_schema()
    yield store
    store.close()
